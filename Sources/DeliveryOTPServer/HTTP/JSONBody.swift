import DeliveryOTP
import Foundation
import Hummingbird

/// Request and response bodies: JSON objects, read strictly.
///
/// A request body is refused before decoding when it is not one JSON object in UTF-8, nests
/// deeper than ``maximumDepth``, or names a member twice (RFC 8259 leaves its meaning open).
enum JSONBody {
    /// Objects and arrays may nest this deep in a request.
    static let maximumDepth = 8

    /// Reads the whole body, at most `limit` bytes, and decodes it as `T`.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
        try decodeStrictly(type, from: try await bytes(of: request, limit: limit))
    }

    /// Reads the whole body, at most `limit` bytes, and decodes it as `T`: in one pass when it is
    /// a flat object of plain strings (``JSONStringMembers``), else as any other body.
    static func decode<T: StringMembersDecodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
        try decode(type, from: try await bytes(of: request, limit: limit))
    }

    /// The whole body, at most `limit` bytes.
    private static func bytes(of request: Request, limit: Int) async throws -> [UInt8] {
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: limit) } catch { throw readFailure(error) }
        return Array(buffer.readableBytesView)
    }

    /// Decodes `bytes` as `T` from its members when they are all plain strings and make a `T` by
    /// themselves; anything else (an escape, `null`, a member missing, a malformed body) goes
    /// through the strict checks and `JSONDecoder` as for any type, which say what is wrong.
    static func decode<T: StringMembersDecodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        if let members = bytes.withUnsafeBytes({ JSONStringMembers.members(of: $0) }), let value = T(stringMembers: members) {
            return value
        }
        return try decodeStrictly(type, from: bytes)
    }

    /// A body that could not be read: too large (413), or the client went away (rethrown as it is).
    static func readFailure(_ error: any Error) -> any Error {
        if let error = error as? any HTTPResponseError, error.status == .contentTooLarge { return APIError.tooLarge }
        return error
    }

    /// The general way, for every type and body: decodes `bytes` as `T` with `JSONDecoder` after
    /// the strict checks; every failure is a 400 with the reason.
    static func decodeStrictly<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        guard depth(of: bytes) <= maximumDepth else {
            throw APIError.badRequest("the JSON body nests deeper than \(maximumDepth) levels")
        }
        let finding = bytes.withUnsafeBytes { JSONDuplicateMembers.check($0) }
        switch finding {
        case .duplicate(let path)?: throw APIError.badRequest("the JSON member \(path) is given twice")
        case .unreadable?:
            throw APIError.badRequest("the body is not one JSON object in UTF-8", hint: "send Content-Type: application/json")
        case nil: break
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let DecodingError.keyNotFound(key, _) {
            throw APIError.badRequest("the JSON member \(key.stringValue) is missing")
        } catch let DecodingError.typeMismatch(_, context) {
            throw APIError.badRequest("the JSON member \(path(context)) has the wrong type")
        } catch let DecodingError.valueNotFound(_, context) {
            throw APIError.badRequest("the JSON member \(path(context)) is null")
        } catch {
            throw APIError.badRequest("the body is not valid JSON for this endpoint")
        }
    }

    private static func path(_ context: DecodingError.Context) -> String {
        context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    /// The deepest nesting of objects and arrays, outside strings.
    static func depth(of bytes: [UInt8]) -> Int {
        var depth = 0, deepest = 0, inString = false, escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                deepest = max(deepest, depth)
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            default: break
            }
        }
        return deepest
    }

    /// Encodes a response object (sorted keys, no escaped slashes).
    static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // The response types hold strings, integers and arrays of them: encoding cannot fail.
        return Array(try! encoder.encode(value))
    }

    /// A 200 JSON response of a flat object, written without an encoder (the hot endpoints' answers).
    static func object(_ fields: [(String, JSONText.Scalar)]) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: JSONText.lineBytes(scalars: fields))))
    }

    /// A 200 (or `status`) JSON response.
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: encode(value))))
    }
}

/// A request body type whose value can be built from a flat object of plain strings, skipping
/// `JSONDecoder` for the bodies that are nothing more (`JSONBody.decode(_:from:)` for such a
/// type, on the body's bytes).
///
/// Only for a type whose every member is a `String` or an optional `String`: for any other, a
/// string where `JSONDecoder` wants a number would be read here and refused there.
protocol StringMembersDecodable: Decodable {
    /// The value the members make, or `nil` to leave the body to `JSONDecoder`: a member the type
    /// needs is missing, or one holds what it refuses. It must give what `init(from:)` gives for
    /// the same members (the tests compare the two for every coding key), and, as `init(from:)`
    /// does, skip members it does not know.
    init?(stringMembers: [(name: String, value: String)])
}
