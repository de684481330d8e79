/*
 * job_template.c - the template's labels and annotations on a Secret
 * that is shared (creationPolicy Merge or None). We may add and update
 * them, but must remove only what we put there: the keys we set are
 * listed in an annotation, so that one dropped from the template is
 * removed from the Secret while other writers' labels stay. (Under
 * Owner the Secret carries exactly the template; no list is needed.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"

/* listed - the list annotation ("l:key,a:key") as a fresh string. */
static char *listed(const cJSON *ann)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(ann, ANN_MANAGED_META);

	return strdup(cJSON_IsString(v) ? v->valuestring : "");
}

/* prune - remove each listed label/annotation that keep lacks (all of
 * them when keep_* are NULL). */
static void prune(cJSON *labels, cJSON *ann, const cJSON *keep_l, const cJSON *keep_a,
    bool *changed)
{
	char *list = listed(ann), *save = NULL;

	for (char *e = list ? strtok_r(list, ",", &save) : NULL; e; e = strtok_r(NULL, ",", &save)) {
		cJSON *map = e[0] == 'l' ? labels : e[0] == 'a' ? ann : NULL;
		const cJSON *keep = e[0] == 'l' ? keep_l : keep_a;
		if (map == NULL || e[1] != ':' || strncmp(e + 2, "pam.monofor.com/", 16) == 0 ||
		    cJSON_GetObjectItemCaseSensitive(keep, e + 2) != NULL ||
		    cJSON_GetObjectItemCaseSensitive(map, e + 2) == NULL)
			continue;
		cJSON_DeleteItemFromObjectCaseSensitive(map, e + 2);
		*changed = true;
	}
	free(list);
}

void job_template_shared(struct job_ctx *c, cJSON *labels, cJSON *ann, bool *changed)
{
	const cJSON *it;
	char *list = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&list, &len);

	prune(labels, ann, c->spec.labels, c->spec.annotations, changed);
	cJSON_ArrayForEach(it, c->spec.labels) {
		job_set_str(labels, it->string, it->valuestring, changed);
		fprintf(f, "%sl:%s", len ? "," : "", it->string);
		fflush(f);
	}
	cJSON_ArrayForEach(it, c->spec.annotations) {
		job_set_str(ann, it->string, it->valuestring, changed);
		fprintf(f, "%sa:%s", len ? "," : "", it->string);
		fflush(f);
	}
	fclose(f);
	if (len > 0)
		job_set_str(ann, ANN_MANAGED_META, list, changed);
	else if (cJSON_GetObjectItemCaseSensitive(ann, ANN_MANAGED_META)) {
		cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_MANAGED_META);
		*changed = true;
	}
	free(list);
}

void job_template_drop(cJSON *md)
{
	cJSON *ann = cJSON_GetObjectItemCaseSensitive(md, "annotations");
	bool changed = false;

	prune(cJSON_GetObjectItemCaseSensitive(md, "labels"), ann, NULL, NULL, &changed);
	cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_MANAGED_META);
}
