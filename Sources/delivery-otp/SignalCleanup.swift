import DeliveryOTP
import Foundation

/// On SIGINT, SIGTERM, SIGHUP or SIGPIPE, removes the temporary files of writes in progress
/// (``PendingFiles``), then ends the process by the same signal, as the shell expects.
enum SignalCleanup {
    static func install() {
        // Build the table now: the handler must not be the first to touch it (no allocation in a handler).
        PendingFiles.prepare()
        // SIGHUP: the terminal went away; SIGPIPE: `| head` closed the reader of --rejects - or the feed.
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                PendingFiles.removeAll()
                Glibc.signal(number, SIG_DFL)
                raise(number)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(signal, &action, nil)
        }
        // A parent may have left them blocked (a spawning thread's mask is inherited): unblock them here.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}
