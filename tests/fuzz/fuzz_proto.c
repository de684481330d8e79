/*
 * fuzz_proto - the IPC decoder, which the supervisor runs on whatever a
 * (possibly compromised) worker sends, and the worker on each job. Any
 * input must decode or be refused without a crash or a leak; what
 * decodes must encode back to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_job j;
	struct proto_result r;
	unsigned char *out;
	size_t len;
	char err[128];

	(void)proto_peek_type(data, size);
	if (proto_decode_job(data, size, &j, err, sizeof(err)) == 0) {
		/* Re-encoding puts every field in table order, so compare by
		 * decoding the copy again: same length, same bytes. */
		if (proto_encode_job(&j, &out, &len) < 0)
			abort();
		struct proto_job k;
		unsigned char *again;
		size_t alen;
		if (proto_decode_job(out, len, &k, err, sizeof(err)) != 0 ||
		    proto_encode_job(&k, &again, &alen) < 0 || alen != len ||
		    memcmp(out, again, len) != 0)
			abort();
		free(again);
		free(out);
		proto_job_free(&k);
		proto_job_free(&j);
	}
	if (proto_decode_result(data, size, &r, err, sizeof(err)) == 0) {
		if (proto_encode_result(&r, &out, &len) < 0)
			abort();
		free(out);
		proto_result_free(&r);
	}
	return 0;
}
