import DeliveryOTP
import Hummingbird
import HummingbirdAuth

/// The request context: Hummingbird's core storage and the caller's token, once authenticated.
public struct ServiceRequestContext: AuthRequestContext, RequestContext {
    /// Hummingbird's per-request storage.
    public var coreContext: CoreRequestContextStorage
    /// The token's entry, set by ``TokenAuthenticator``.
    public var identity: TokenEntry? {
        didSet { caller.value = identity?.name.rawValue }
    }
    /// The token's name for the request's log line, shared with the outer middleware.
    let caller = RequestCaller()

    /// A context for a new request.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = nil
    }

    /// Bodies read whole are bounded by the routes themselves (``ServiceLimits``).
    public var maxUploadSize: Int { ServiceLimits.default.maximumBodyBytes }
}

extension TokenEntry: RoleProviding {
    /// A token has exactly one role.
    public var roles: Set<Role> { [role] }
}

/// Finds the caller's token from `Authorization: Bearer TOKEN` (the scheme in any case) in the current token table.
/// A missing, malformed or unknown token leaves the request unauthenticated; the role policy
/// of each endpoint answers 401.
struct TokenAuthenticator: AuthenticatorMiddleware {
    typealias Context = ServiceRequestContext
    let state: ServiceState

    func authenticate(request: Request, context: ServiceRequestContext) async throws -> TokenEntry? {
        guard let header = request.headers[.authorization], let token = BearerToken.credentials(inAuthorization: header) else {
            return nil
        }
        return state.tokens.entry(forToken: token)
    }
}

/// The role policy of an endpoint group, from HummingbirdAuth: 401 without a known token
/// (the error middleware words it), 403 for a token of another role.
func requireRole(_ role: Role) -> AuthorizationPolicyMiddleware<RolePolicy<TokenEntry>, ServiceRequestContext, APIError> {
    AuthorizationPolicyMiddleware(
        RolePolicy<TokenEntry>(role),
        deniedError: APIError.forbidden("this token's role may not use this endpoint", hint: "use a token of role \(role.rawValue)"),
        context: ServiceRequestContext.self)
}

/// Answers 429 with `Retry-After` when the caller's token has used up its bucket.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = ServiceRequestContext
    let limiter: RateLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let identity = context.identity, let wait = limiter.take(identity.name.rawValue) {
            throw APIError(
                .tooManyRequests, "rate limit reached for this token", hint: "retry after \(wait) s",
                headers: [.retryAfter: String(wait)])
        }
        return try await next(request, context)
    }
}
