/*
 * proto - the one definition of what crosses the supervisor<->worker
 * channel. Every message is a 12-byte header (magic "PMOP", version,
 * type, payload length) followed by tagged fields. Decoding is strict:
 * a wrong magic, version or type, a short or over-long field, an
 * unknown tag, an embedded NUL or left-over bytes is an error.
 *
 * Nothing secret is in any message: jobs carry names, specs and
 * non-secret settings; results carry hashes, reasons and counts.
 * Bump PROTO_VERSION on any change of the tables in proto.c.
 */
#ifndef PAMOP_PROTO_H
#define PAMOP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION   3
#define PROTO_MAX_MSG   (512 * 1024)   /* whole message, header included */
#define PROTO_HDR_LEN   12

enum proto_type {
	PROTO_JOB = 1,       /* supervisor -> worker */
	PROTO_RESULT = 2,    /* worker -> supervisor */
};

enum job_kind {
	JOB_SYNC = 1,        /* fetch from PAM, write the target Secret, roll out */
	JOB_CLEANUP = 2,     /* apply the deletion policy to a target Secret */
	JOB_CHECK_STORE = 3, /* read the access key and ask PAM to accept it */
	JOB_TEST_FORBIDDEN = 4, /* test only: make a forbidden syscall */
	JOB_TEST_MALFORMED = 5, /* test only: answer with a malformed result */
};

/* Secret operation the worker performed on the target. */
enum secret_op {
	SECOP_NONE = 0, SECOP_CREATED, SECOP_UPDATED, SECOP_UNCHANGED,
	SECOP_DELETED, SECOP_RELEASED,
};

struct proto_job {
	int64_t id;
	int64_t kind;          /* enum job_kind */
	int64_t now_ms;        /* wall clock at dispatch (the worker may lack one) */
	int64_t generation;
	int64_t flags;         /* JOBF_* */
	char *ns;              /* MonoSecret namespace (or MonoStore's) */
	char *name;            /* MonoSecret name (or MonoStore's) */
	char *uid;             /* MonoSecret metadata.uid */
	char *spec_json;       /* MonoSecret .spec, compact JSON */
	char *store_url;       /* MonoStore url */
	char *key_ns;          /* access-key Secret: namespace, name, key */
	char *key_name;
	char *key_key;
	char *prev_hash;       /* status.secretDataHash ("" if none) */
	char *target;          /* target Secret name for cleanup/rename */
	char *rollout;         /* restart targets: "Kind/name\n" lines, deduplicated */
	char *kube_token;      /* current service-account token, "" if not in-cluster */
	char *resolve;         /* "host:port:addr[,addr]\n" lines for CURLOPT_RESOLVE:
	                        * the supervisor resolves names, the sandbox cannot */
};

#define JOBF_OWNER_CLEANUP 1 /* cleanup: old target of a rename, not a deletion */
#define JOBF_VERIFY 2        /* sync: check the Secret against the data hash and
                              * repair it from itself; ask PAM only if it differs */

struct proto_result {
	int64_t id;
	int64_t kind;
	int64_t secret_op;     /* enum secret_op */
	int64_t retry_after;   /* seconds PAM asked us to wait, -1 if none */
	int64_t restarts_ok;
	int64_t restarts_failed;
	int64_t pam_requests;
	int64_t duration_ms;
	char *reason;          /* "" on success, else a CamelCase reason */
	char *message;         /* human text, never a value */
	char *data_hash;       /* keyed hash of the data ("" if not computed) */
	char *secret_rv;       /* target Secret resourceVersion after the job */
	char *rollouts;        /* one line per restart target:
	                        * "<outcome> <HTTP code> Kind/name\n", outcome
	                        * restarted, skipped (already restarted for
	                        * this change), notfound, forbidden,
	                        * unsupported or failed */
	char *pam_codes;       /* "200 1 35\n": PAM answers: code, count, total ms */
	char *kube_codes;      /* "PUT secrets 200 1\n": Kubernetes requests made */
};

/* proto_encode_* - serialise into a malloc'd buffer; returns length or -1. */
int proto_encode_job(const struct proto_job *j, unsigned char **out, size_t *len);
int proto_encode_result(const struct proto_result *r, unsigned char **out, size_t *len);

/* proto_decode_* - parse buf strictly; on error returns -1, frees partial
 * fields and writes a reason (never the payload) to err. */
int proto_decode_job(const unsigned char *buf, size_t len, struct proto_job *j,
    char *err, size_t errlen);
int proto_decode_result(const unsigned char *buf, size_t len,
    struct proto_result *r, char *err, size_t errlen);

/* proto_peek_type - message type from the header, or -1 if not ours. */
int proto_peek_type(const unsigned char *buf, size_t len);

void proto_job_free(struct proto_job *j);
void proto_result_free(struct proto_result *r);

#endif
