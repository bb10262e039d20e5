#ifndef DELIVERY_OTP_CYCLE_COUNTER_H
#define DELIVERY_OTP_CYCLE_COUNTER_H

#include <stdint.h>

// A serialised timestamp counter read: the fences keep earlier and later
// instructions from moving across it (Intel SDM, RDTSC). Elsewhere, a
// monotonic clock in nanoseconds.
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static inline uint64_t dotp_cycles(void) {
    _mm_lfence();
    uint64_t t = __rdtsc();
    _mm_lfence();
    return t;
}
#else
#include <time.h>
static inline uint64_t dotp_cycles(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif

#endif
