/*
 * fuzz_watch - one line of a Kubernetes watch stream into the
 * supervisor's informers and index, as the API server (or anyone able
 * to create MonoSecrets, MonoStores and annotations) shapes it: the
 * event, the object, its metadata and the spec parsing behind it. The
 * first byte chooses the informer; the index and queue keep their state
 * from one input to the next, as they would over a long watch.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sup.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	log_init("fuzz", false, LOG_ERROR);   /* the index warns on odd input: keep quiet */
	S.results_tail = &S.results;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line;

	if (size < 1)
		return 0;
	S.opt.test_jobs = (data[0] & 0x80) != 0;   /* the annotation path too */
	line = malloc(size);
	memcpy(line, data + 1, size - 1);
	line[size - 1] = '\0';
	informer_feed(data[0] & 0x7f, line, size - 1);
	free(line);
	return 0;
}
