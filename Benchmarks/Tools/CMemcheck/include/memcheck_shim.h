#ifndef DELIVERY_OTP_MEMCHECK_SHIM_H
#define DELIVERY_OTP_MEMCHECK_SHIM_H

#include <stddef.h>

// memcheck.h's client requests are macros around inline assembly, which Swift
// cannot expand; these functions wrap them. Outside valgrind they do nothing.

/// Marks `length` bytes at `address` as undefined: secret, for memcheck.
void dotp_mark_secret(const void *address, size_t length);

/// Marks `length` bytes at `address` as defined again: declassified, public.
void dotp_mark_public(const void *address, size_t length);

/// The number of errors memcheck has reported so far (0 outside valgrind).
unsigned long dotp_memcheck_error_count(void);

/// 1 when running under valgrind.
int dotp_running_on_valgrind(void);

#endif
