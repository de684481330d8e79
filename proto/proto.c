/*
 * proto.c - table-driven encoding of the IPC messages declared in proto.h.
 *
 * Each message type has a table of (tag, kind, offset, cap). Encoding
 * walks the table; decoding accepts each tag at most once, checks its
 * length against the cap, and requires the payload to end exactly at
 * the last field. Absent string fields decode as "" so that callers
 * never meet NULL.
 */
#include "proto.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum fkind { F_I64, F_STR };

struct field {
	uint16_t tag;
	enum fkind kind;
	size_t off;
	uint32_t cap;   /* maximum string length */
};

#define I(tag, st, m) { tag, F_I64, offsetof(st, m), 8 }
#define S(tag, st, m, cap) { tag, F_STR, offsetof(st, m), cap }

static const struct field job_fields[] = {
	I(1, struct proto_job, id),
	I(2, struct proto_job, kind),
	I(3, struct proto_job, now_ms),
	I(4, struct proto_job, generation),
	I(5, struct proto_job, flags),
	S(10, struct proto_job, ns, 253),
	S(11, struct proto_job, name, 253),
	S(12, struct proto_job, uid, 64),
	S(13, struct proto_job, spec_json, 256 * 1024),
	S(14, struct proto_job, store_url, 2048),
	S(15, struct proto_job, key_ns, 253),
	S(16, struct proto_job, key_name, 253),
	S(17, struct proto_job, key_key, 253),
	S(18, struct proto_job, prev_hash, 128),
	S(19, struct proto_job, target, 253),
	S(20, struct proto_job, rollout, 128 * 1024),
	S(21, struct proto_job, kube_token, 16 * 1024),
	S(22, struct proto_job, resolve, 4096),
};

static const struct field result_fields[] = {
	I(1, struct proto_result, id),
	I(2, struct proto_result, kind),
	I(3, struct proto_result, secret_op),
	I(4, struct proto_result, retry_after),
	I(5, struct proto_result, restarts_ok),
	I(6, struct proto_result, restarts_failed),
	I(7, struct proto_result, pam_requests),
	I(8, struct proto_result, duration_ms),
	S(10, struct proto_result, reason, 128),
	S(11, struct proto_result, message, 4096),
	S(12, struct proto_result, data_hash, 128),
	S(13, struct proto_result, secret_rv, 64),
	S(14, struct proto_result, rollouts, 128 * 1024),
	S(16, struct proto_result, pam_codes, 1024),
	S(17, struct proto_result, kube_codes, 1024),
};

#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

static void put16(unsigned char *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = (v >> 16) & 0xff; p[2] = (v >> 8) & 0xff; p[3] = v & 0xff;
}
static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* encode - header plus every field of the table; strings may be NULL (sent as ""). */
static int encode(uint16_t type, const struct field *t, size_t n, const void *st,
    unsigned char **out, size_t *len)
{
	size_t total = PROTO_HDR_LEN;
	for (size_t i = 0; i < n; i++) {
		const char *s = t[i].kind == F_STR ? *(char *const *)((const char *)st + t[i].off) : NULL;
		size_t flen = t[i].kind == F_I64 ? 8 : (s ? strlen(s) : 0);
		if (flen > t[i].cap)
			return -1;
		total += 6 + flen;
	}
	if (total > PROTO_MAX_MSG)
		return -1;

	unsigned char *b = malloc(total), *p = b + PROTO_HDR_LEN;
	if (b == NULL)
		return -1;
	memcpy(b, "PMOP", 4);
	put16(b + 4, PROTO_VERSION);
	put16(b + 6, type);
	put32(b + 8, (uint32_t)(total - PROTO_HDR_LEN));
	for (size_t i = 0; i < n; i++) {
		const char *base = (const char *)st + t[i].off;
		put16(p, t[i].tag);
		if (t[i].kind == F_I64) {
			uint64_t v = (uint64_t)*(const int64_t *)base;
			put32(p + 2, 8);
			put32(p + 6, (uint32_t)(v >> 32));
			put32(p + 10, (uint32_t)v);
			p += 14;
		} else {
			const char *s = *(char *const *)base;
			size_t sl = s ? strlen(s) : 0;
			put32(p + 2, (uint32_t)sl);
			memcpy(p + 6, s ? s : "", sl);
			p += 6 + sl;
		}
	}
	*out = b;
	*len = total;
	return (int)total;
}

static void free_strings(const struct field *t, size_t n, void *st)
{
	for (size_t i = 0; i < n; i++) {
		if (t[i].kind != F_STR)
			continue;
		char **sp = (char **)((char *)st + t[i].off);
		free(*sp);
		*sp = NULL;
	}
}

/* decode - strict inverse of encode; see the file comment for the rules. */
static int decode(uint16_t type, const struct field *t, size_t n,
    const unsigned char *buf, size_t len, void *st, char *err, size_t errlen)
{
	bool seen[64] = { false };
	const unsigned char *p, *end;

	if (len < PROTO_HDR_LEN || memcmp(buf, "PMOP", 4) != 0) {
		snprintf(err, errlen, "bad magic or short header (%zu bytes)", len);
		return -1;
	}
	if (get16(buf + 4) != PROTO_VERSION || get16(buf + 6) != type) {
		snprintf(err, errlen, "unexpected version %u or type %u",
		    get16(buf + 4), get16(buf + 6));
		return -1;
	}
	if (len > PROTO_MAX_MSG || get32(buf + 8) != len - PROTO_HDR_LEN) {
		snprintf(err, errlen, "length field disagrees with %zu bytes", len);
		return -1;
	}
	p = buf + PROTO_HDR_LEN;
	end = buf + len;
	while (p < end) {
		if (end - p < 6) {
			snprintf(err, errlen, "truncated field header");
			goto fail;
		}
		uint16_t tag = get16(p);
		uint32_t flen = get32(p + 2);
		p += 6;
		size_t i;
		for (i = 0; i < n && t[i].tag != tag; i++)
			;
		if (i == n || seen[i]) {
			snprintf(err, errlen, "unknown or repeated tag %u", tag);
			goto fail;
		}
		seen[i] = true;
		if (flen > t[i].cap || (size_t)(end - p) < flen ||
		    (t[i].kind == F_I64 && flen != 8)) {
			snprintf(err, errlen, "field %u has bad length %u", tag, flen);
			goto fail;
		}
		char *base = (char *)st + t[i].off;
		if (t[i].kind == F_I64) {
			uint64_t v = (uint64_t)get32(p) << 32 | get32(p + 4);
			*(int64_t *)base = (int64_t)v;
		} else {
			if (memchr(p, '\0', flen) != NULL) {
				snprintf(err, errlen, "field %u has an embedded NUL", tag);
				goto fail;
			}
			char *s = malloc(flen + 1);
			if (s == NULL) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			memcpy(s, p, flen);
			s[flen] = '\0';
			*(char **)base = s;
		}
		p += flen;
	}
	for (size_t i = 0; i < n; i++) {
		char **sp = (char **)((char *)st + t[i].off);
		if (t[i].kind == F_STR && *sp == NULL && (*sp = calloc(1, 1)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	return 0;
fail:
	free_strings(t, n, st);
	return -1;
}

int proto_encode_job(const struct proto_job *j, unsigned char **out, size_t *len)
{
	return encode(PROTO_JOB, job_fields, NFIELDS(job_fields), j, out, len);
}

int proto_encode_result(const struct proto_result *r, unsigned char **out, size_t *len)
{
	return encode(PROTO_RESULT, result_fields, NFIELDS(result_fields), r, out, len);
}

int proto_decode_job(const unsigned char *buf, size_t len, struct proto_job *j,
    char *err, size_t errlen)
{
	memset(j, 0, sizeof(*j));
	return decode(PROTO_JOB, job_fields, NFIELDS(job_fields), buf, len, j, err, errlen);
}

int proto_decode_result(const unsigned char *buf, size_t len,
    struct proto_result *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
	return decode(PROTO_RESULT, result_fields, NFIELDS(result_fields), buf, len,
	    r, err, errlen);
}

int proto_peek_type(const unsigned char *buf, size_t len)
{
	if (len < PROTO_HDR_LEN || memcmp(buf, "PMOP", 4) != 0)
		return -1;
	return get16(buf + 6);
}

void proto_job_free(struct proto_job *j)
{
	if (j->kube_token)
		explicit_bzero(j->kube_token, strlen(j->kube_token));
	free_strings(job_fields, NFIELDS(job_fields), j);
}

void proto_result_free(struct proto_result *r)
{
	free_strings(result_fields, NFIELDS(result_fields), r);
}
