/* SPDX-License-Identifier: Apache-2.0 */
/* sha256 digests and base64, on OpenSSL's libcrypto (SHA-NI/AVX2 code paths where present). */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "util.h"

struct lc_sha256 {
	EVP_MD_CTX *md;
};

lc_sha256 *lc_sha256_new(void)
{
	lc_sha256 *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->md = EVP_MD_CTX_new();
	if (!h->md || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
		lc_sha256_free(h);
		return NULL;
	}
	return h;
}

void lc_sha256_free(lc_sha256 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->md);
	free(h);
}

void lc_sha256_update(lc_sha256 *h, const void *data, size_t len)
{
	(void)EVP_DigestUpdate(h->md, data, len);
}

static void hex_digest(const unsigned char *bin, char out[72])
{
	static const char hex[] = "0123456789abcdef";

	memcpy(out, "sha256:", 7);
	for (int i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[bin[i] >> 4];
		out[8 + 2 * i] = hex[bin[i] & 15];
	}
	out[71] = '\0';
}

void lc_sha256_final_digest(lc_sha256 *h, char out[72])
{
	unsigned char bin[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	(void)EVP_DigestFinal_ex(h->md, bin, &n);
	hex_digest(bin, out);
}

void lc_sha256_digest(const void *data, size_t len, char out[72])
{
	unsigned char bin[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	(void)EVP_Digest(data, len, bin, &n, EVP_sha256(), NULL);
	hex_digest(bin, out);
}

char *lc_base64_encode(const void *data, size_t len)
{
	char *out;

	if (len > (SIZE_MAX / 4) * 3 - 3)
		return NULL;
	out = malloc(4 * ((len + 2) / 3) + 1);
	if (!out)
		return NULL;
	(void)EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

char *lc_base64_decode(const char *text, size_t *ret_len)
{
	size_t n = strlen(text), o = 0;
	unsigned acc = 0;
	int bits = 0;
	char *out = malloc(n / 4 * 3 + 4);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int v;

		if (text[i] == '=')
			break;
		v = b64_value(text[i]);
		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	if (ret_len)
		*ret_len = o;
	return out;
}
