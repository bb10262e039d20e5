#ifndef DELIVERY_OTP_CLINUX_H
#define DELIVERY_OTP_CLINUX_H

// Two Linux/glibc calls that Swift's Glibc module does not import: they need
// _GNU_SOURCE (sync_file_range) or a header it leaves out (malloc.h).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <malloc.h>
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

/// Keeps large allocations on the heap and the heap untrimmed up to `bytes`
/// (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD), so buffers freed and allocated again
/// do not come back as fresh zeroed pages each time.
static inline void dotp_keep_large_allocations(int bytes) {
    mallopt(M_MMAP_THRESHOLD, bytes);
    mallopt(M_TRIM_THRESHOLD, bytes);
}

#endif
