/*
 * spec - parse and validate MonoSecret and MonoStore specs. Both
 * processes use it: the supervisor to schedule and to refuse bad specs
 * early, the worker to know what to fetch and write. Every error names
 * the offending field, e.g. "spec.data[2].secretKey: ...".
 */
#ifndef PAMOP_SPEC_H
#define PAMOP_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

enum creation_policy { CREATE_OWNER, CREATE_MERGE, CREATE_NONE };
enum deletion_policy { DELETE_DELETE, DELETE_RETAIN };

struct spec_data {            /* spec.data[] */
	const char *secret_key;
	const char *vault_id;
	const char *property;     /* NULL when omitted */
};

struct spec_extract {         /* spec.dataFrom[].extract */
	const char *vault_id;
	const char *property;     /* NULL: every property */
};

struct spec_rollout {
	const char *kind;         /* a word; Deployment, DaemonSet, StatefulSet restart */
	const char *name;
};

/* A parsed MonoSecret spec. Strings point into the cJSON tree it came
 * from: keep that tree alive as long as the struct. */
struct msec_spec {
	const char *store;
	const char *target;
	enum creation_policy creation;
	enum deletion_policy deletion;
	const char *refresh;      /* as written */
	int64_t refresh_ms;       /* 0: never refresh on a timer */
	size_t ndata, nfrom, nrollout;
	struct spec_data *data;
	struct spec_extract *from;
	bool rollout_enabled;
	struct spec_rollout *rollout;
	const cJSON *labels;      /* template.metadata.labels or NULL */
	const cJSON *annotations; /* template.metadata.annotations or NULL */
	const char *type;         /* template.type or NULL */
};

struct store_spec {
	const char *url;
	const char *key_ns;       /* NULL: the MonoStore's namespace */
	const char *key_name;
	const char *key_key;
};

/* spec_msec_parse - returns 0, or -1 with *reason a CamelCase condition
 * reason and msg naming the field. */
int spec_msec_parse(const cJSON *spec, struct msec_spec *s,
    const char **reason, char *msg, size_t msglen);
void spec_msec_free(struct msec_spec *s);

/* spec_deletion_policy - spec.target.deletionPolicy read leniently (for
 * a MonoSecret being deleted whose spec no longer parses): Retain only
 * when it says so, else Delete. spec may be NULL. */
enum deletion_policy spec_deletion_policy(const cJSON *spec);

int spec_store_parse(const cJSON *spec, struct store_spec *s,
    const char **reason, char *msg, size_t msglen);

/* Validity checks shared with the worker and tests. */
bool spec_valid_secret_key(const char *k);   /* [-._a-zA-Z0-9]+, <= 253 */
bool spec_valid_vault_id(const char *v);     /* [0-9a-fA-F-]{1,64} */
bool spec_valid_name(const char *n);         /* DNS-1123 subdomain */

#endif
