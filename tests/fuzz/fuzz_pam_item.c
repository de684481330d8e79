/*
 * fuzz_pam_item - the PAM response parser, the first code in the worker
 * to touch bytes from the network. Any body must parse or be refused
 * without a crash or a leak, and a refusal leaves nothing allocated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "pam_api.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	return sodium_init() < 0 ? -1 : 0;   /* values go to guarded memory */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pam_item it;
	struct pam_result res;

	if (pam_parse_item((const char *)data, size, &it, &res) == 0) {
		/* every property kept is one the type lists */
		for (size_t i = 0; i < it.nprops; i++)
			if (!pam_type_has_property(it.type, it.props[i].name))
				abort();
	} else if (it.nprops != 0 || res.status == PAM_OK) {
		abort();
	}
	pam_item_free(&it);
	return 0;
}
