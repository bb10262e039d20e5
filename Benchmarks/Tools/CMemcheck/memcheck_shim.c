#include "memcheck_shim.h"

#if defined(DELIVERY_OTP_MEMCHECK) && __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>

void dotp_mark_secret(const void *address, size_t length) { VALGRIND_MAKE_MEM_UNDEFINED(address, length); }
void dotp_mark_public(const void *address, size_t length) { VALGRIND_MAKE_MEM_DEFINED(address, length); }
unsigned long dotp_memcheck_error_count(void) { return VALGRIND_COUNT_ERRORS; }
int dotp_running_on_valgrind(void) { return RUNNING_ON_VALGRIND ? 1 : 0; }

#else

void dotp_mark_secret(const void *address, size_t length) { (void)address; (void)length; }
void dotp_mark_public(const void *address, size_t length) { (void)address; (void)length; }
unsigned long dotp_memcheck_error_count(void) { return 0; }
int dotp_running_on_valgrind(void) { return 0; }

#endif
