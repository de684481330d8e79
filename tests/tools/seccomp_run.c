/*
 * seccomp-run - run a command under a container seccomp profile (the
 * JSON that Kubernetes' Localhost profiles and runc read), installed
 * the way runc installs it: no_new_privs, the filter, then execve. It
 * lets a test (and an auditor) check that deploy/seccomp/pam-operator.json
 * allows everything the manager and its workers do, without a cluster.
 *
 *   seccomp-run [--kill] PROFILE.json COMMAND [ARG...]
 *
 * --kill replaces the profile's default action with killing the
 * process, so that a syscall the profile forgot is loud, not an EPERM
 * that some library might swallow. Understood: defaultAction,
 * defaultErrnoRet, and syscalls[] with names, action (ALLOW, ERRNO with
 * errnoRet, KILL, KILL_PROCESS, TRAP, LOG) and args (index, value,
 * valueTwo, op); architectures are taken to be the native one.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <seccomp.h>

#include "util.h"

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "seccomp-run: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	exit(125);
}

/* action - a profile action name to libseccomp's, with its errno. */
static uint32_t action(const char *name, const cJSON *errno_ret)
{
	int e = cJSON_IsNumber(errno_ret) ? (int)errno_ret->valuedouble : EPERM;

	if (name == NULL)
		die("an action is missing", NULL);
	if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
		return SCMP_ACT_ALLOW;
	if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
		return SCMP_ACT_ERRNO((uint32_t)e);
	if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
		return SCMP_ACT_KILL;
	if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
		return SCMP_ACT_KILL_PROCESS;
	if (strcmp(name, "SCMP_ACT_TRAP") == 0)
		return SCMP_ACT_TRAP;
	if (strcmp(name, "SCMP_ACT_LOG") == 0)
		return SCMP_ACT_LOG;
	die("unknown action", name);
	return 0;
}

static enum scmp_compare op_of(const char *op)
{
	static const struct { const char *n; enum scmp_compare c; } t[] = {
		{ "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT },
		{ "SCMP_CMP_LE", SCMP_CMP_LE }, { "SCMP_CMP_EQ", SCMP_CMP_EQ },
		{ "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
		{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
	};

	for (size_t i = 0; op && i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(op, t[i].n) == 0)
			return t[i].c;
	die("unknown comparison", op);
	return SCMP_CMP_EQ;
}

/* add_rule - one syscall of a syscalls[] entry. As runc does: conditions
 * on distinct arguments make one rule (all must hold); several on the
 * same argument make one rule each (any may hold). */
static void add_rule(scmp_filter_ctx ctx, uint32_t act, int nr, const cJSON *args)
{
	struct scmp_arg_cmp cmp[6];
	unsigned int n = 0, seen = 0;
	bool distinct = true;
	const cJSON *a;

	cJSON_ArrayForEach(a, args) {
		unsigned int idx = (unsigned int)cJSON_GetNumberValue(
		    cJSON_GetObjectItemCaseSensitive(a, "index"));
		if (n == 6 || idx > 5)
			die("too many or bad syscall argument conditions", NULL);
		distinct = distinct && !(seen & (1u << idx));
		seen |= 1u << idx;
		cmp[n++] = (struct scmp_arg_cmp){ idx,
		    op_of(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "op"))),
		    (scmp_datum_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(a, "value")),
		    (scmp_datum_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(a,
		    "valueTwo")) };
	}
	if (distinct) {
		if (seccomp_rule_add_array(ctx, act, nr, n, cmp) != 0)
			die("libseccomp refused a rule", NULL);
		return;
	}
	for (unsigned int i = 0; i < n; i++)
		if (seccomp_rule_add_array(ctx, act, nr, 1, &cmp[i]) != 0)
			die("libseccomp refused a rule", NULL);
}

static scmp_filter_ctx load_profile(const char *path, bool kill)
{
	char *text = NULL;
	cJSON *p, *e, *name;
	scmp_filter_ctx ctx;

	if (util_read_file(path, &text, NULL, 1 << 20) != 0)
		die("cannot read the profile", path);
	if ((p = cJSON_Parse(text)) == NULL)
		die("the profile is not JSON", path);
	free(text);
	ctx = seccomp_init(kill ? SCMP_ACT_KILL_PROCESS : action(cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(p, "defaultAction")),
	    cJSON_GetObjectItemCaseSensitive(p, "defaultErrnoRet")));
	if (ctx == NULL)
		die("libseccomp failed", NULL);
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(p, "syscalls")) {
		uint32_t act = action(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e,
		    "action")), cJSON_GetObjectItemCaseSensitive(e, "errnoRet"));
		cJSON_ArrayForEach(name, cJSON_GetObjectItemCaseSensitive(e, "names")) {
			int nr = seccomp_syscall_resolve_name(cJSON_GetStringValue(name));
			if (nr == __NR_SCMP_ERROR)
				continue;   /* not on this architecture, as runc skips it */
			add_rule(ctx, act, nr, cJSON_GetObjectItemCaseSensitive(e, "args"));
		}
	}
	cJSON_Delete(p);
	return ctx;
}

int main(int argc, char **argv)
{
	int i = 1;
	bool kill = false;
	scmp_filter_ctx ctx;

	if (i < argc && strcmp(argv[i], "--kill") == 0) {
		kill = true;
		i++;
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: seccomp-run [--kill] PROFILE.json COMMAND [ARG...]\n");
		return 2;
	}
	ctx = load_profile(argv[i], kill);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		die("no_new_privs", strerror(errno));
	if (seccomp_load(ctx) != 0)
		die("cannot install the filter", NULL);
	seccomp_release(ctx);
	execvp(argv[i + 1], argv + i + 1);
	die("cannot run", argv[i + 1]);
	return 125;
}
