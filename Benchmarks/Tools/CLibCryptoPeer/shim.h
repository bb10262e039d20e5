#ifndef DELIVERY_OTP_BENCHMARKS_CLIBCRYPTO_PEER_H
#define DELIVERY_OTP_BENCHMARKS_CLIBCRYPTO_PEER_H

// OpenSSL's one-shot HMAC(), the peer the benchmarks compare with. The root
// package's CLibCrypto is not a product, so this package names libcrypto itself.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#endif
