#ifndef DELIVERY_OTP_CLIBCRYPTO_SHIM_H
#define DELIVERY_OTP_CLIBCRYPTO_SHIM_H

// The low-level SHA256_Init/Update/Final API is deprecated in OpenSSL 3 but
// is the only way to keep and copy an HMAC midstate (spec §2): the EVP and
// EVP_MAC objects are opaque and their copies allocate. We use it knowingly.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#endif
