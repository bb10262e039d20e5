#ifndef DELIVERY_OTP_CLINUX_H
#define DELIVERY_OTP_CLINUX_H

// A Linux call that Swift's Glibc module does not import: sync_file_range
// needs _GNU_SOURCE.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdint.h>

/// Asks the kernel to start writing a file's dirty pages in [offset, offset+length)
/// to disk, without waiting for them. Returns 0, or -1 with errno set.
static inline int dotp_start_writeback(int fd, int64_t offset, int64_t length) {
#ifdef SYNC_FILE_RANGE_WRITE
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)length;
    return -1;
#endif
}

#endif
