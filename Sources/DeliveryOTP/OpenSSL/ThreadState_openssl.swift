internal import CLibCrypto

/// libcrypto's state for the calling thread (its error queue, above all).
enum OpenSSLThreadState {
    /// Frees this thread's libcrypto state now (`OPENSSL_thread_stop`). A worker calls it before it
    /// reports that it is done: left to the thread-exit handler, the state may still be held when
    /// the process exits right after, which LeakSanitizer reports as a leak of 904 bytes.
    static func release() {
        OPENSSL_thread_stop()
    }
}
