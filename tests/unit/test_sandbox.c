/*
 * sandbox: what a worker can still do once sandbox_enter returned, seen
 * from outside. Each case forks a child that enters the sandbox and
 * tries one thing; the parent sees how it ended. A broken rule shows as
 * a child that was not killed, or was killed when it should not be.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <seccomp.h>

#include "sandbox.h"
#include "suites.h"

#define EXIT_OK 0
#define KILLED (-SIGSYS)

/* end_of - the child's end: its exit code, or minus the killing signal. */
static int end_of(pid_t pid)
{
	int st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
}

/* quiet - stdout/stderr to /dev/null so the children's lines stay out of the report. */
static void quiet(void)
{
	int fd = open("/dev/null", O_WRONLY);

	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
}

static int try_open(void)
{
	return open("/etc/passwd", O_RDONLY) < 0 && errno == EACCES ? EXIT_OK : 1;
}

static int try_exec(void)
{
	char *argv[] = { "/bin/true", NULL };

	execv(argv[0], argv);
	return 1;
}

static int try_fork(void)
{
	sandbox_test_violation();
	return 1;
}

static int try_netlink(void)
{
	return socket(AF_NETLINK, SOCK_RAW, 0) >= 0 ? 1 : 2;
}

static int try_tcp(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	return fd >= 0 && close(fd) == 0 ? EXIT_OK : 1;
}

static int try_exec_memory(void)
{
	return mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
	    MAP_FAILED ? 2 : 1;
}

static int try_tiocsti(void)
{
	char c = 'x';

	return ioctl(0, TIOCSTI, &c) == 0 ? 1 : 2;
}

static int try_ptrace(void)
{
	return ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0 ? 1 : 2;
}

static void *fork_in_thread(void *arg)
{
	(void)arg;
	sandbox_test_violation();
	return NULL;
}

static int try_thread(void)
{
	pthread_t t;

	/* Threads are allowed, and each one is under the filter too. */
	if (pthread_create(&t, NULL, fork_in_thread, NULL) != 0)
		return 1;
	pthread_join(t, NULL);
	return 2;
}

static const struct {
	const char *what;
	int (*fn)(void);
	int want;
} cases[] = {
	{ "open a file: EACCES", try_open, EXIT_OK },
	{ "exec", try_exec, KILLED },
	{ "fork", try_fork, KILLED },
	{ "netlink socket", try_netlink, KILLED },
	{ "TCP socket", try_tcp, EXIT_OK },
	{ "executable memory", try_exec_memory, KILLED },
	{ "TIOCSTI", try_tiocsti, KILLED },
	{ "ptrace", try_ptrace, KILLED },
	{ "fork from a new thread", try_thread, KILLED },
};

START_TEST(each_rule)
{
	pid_t pid = fork();
	int end;

	if (pid == 0) {
		quiet();
		if (sandbox_enter("on") != 0)
			_exit(99);
		_exit(cases[_i].fn());
	}
	end = end_of(pid);
	ck_assert_msg(end == cases[_i].want, "%s: child ended with %d, wanted %d",
	    cases[_i].what, end, cases[_i].want);
}
END_TEST

static int go[2];

static void *fork_when_told(void *arg)
{
	char c;

	(void)arg;
	if (read(go[0], &c, 1) == 1)
		sandbox_test_violation();
	return NULL;
}

START_TEST(threads_started_before_are_covered)
{
	pid_t pid;

	ck_assert_int_eq(pipe(go), 0);
	if ((pid = fork()) == 0) {
		pthread_t t;
		quiet();
		if (pthread_create(&t, NULL, fork_when_told, NULL) != 0)
			_exit(98);
		if (sandbox_enter("on") != 0)
			_exit(99);
		(void)!write(go[1], "g", 1);
		pthread_join(t, NULL);
		_exit(1);
	}
	ck_assert_int_eq(end_of(pid), KILLED);
	close(go[0]);
	close(go[1]);
}
END_TEST

/* status_field - the value after "name:" in /proc/pid/status, or "". */
static void status_field(pid_t pid, const char *name, char *out, size_t n)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	out[0] = '\0';
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, strlen(name)) == 0 && line[strlen(name)] == ':') {
			snprintf(out, n, "%s", line + strlen(name) + 1 + strspn(line +
			    strlen(name) + 1, " \t"));
			out[strcspn(out, "\n")] = '\0';
		}
	fclose(f);
}

START_TEST(proc_status_shows_the_sandbox)
{
	int ready[2], hold[2];
	char v[64], c;
	pid_t pid;
	struct stat st;
	bool root = geteuid() == 0;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(hold), 0);
	if ((pid = fork()) == 0) {
		quiet();
		/* As root, become another user first, so that /proc/<pid>
		 * ownership can show dumpability; setuid cleared it, so set
		 * it again and let sandbox_enter be the one to clear it. */
		if (root && (setresgid(65534, 65534, 65534) != 0 ||
		    setresuid(65534, 65534, 65534) != 0 || prctl(PR_SET_DUMPABLE, 1) != 0))
			_exit(98);
		if (sandbox_enter("on") != 0)
			_exit(99);
		(void)!write(ready[1], "r", 1);
		(void)!read(hold[0], &c, 1);
		_exit(0);
	}
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	status_field(pid, "Seccomp", v, sizeof(v));
	ck_assert_str_eq(v, "2");
	status_field(pid, "NoNewPrivs", v, sizeof(v));
	ck_assert_str_eq(v, "1");
	static const char *const caps[] = { "CapInh", "CapPrm", "CapEff", "CapAmb" };
	for (size_t i = 0; i < 4; i++) {
		status_field(pid, caps[i], v, sizeof(v));
		ck_assert_msg(strcmp(v, "0000000000000000") == 0, "%s is %s", caps[i], v);
	}
	/* The files in /proc/<pid> of a process that is not dumpable
	 * belong to root (the directory itself keeps the owner's uid). */
	char path[48];
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq((int)st.st_uid, 0);
	if (!root)
		fprintf(stderr, "sandbox: not root, CapBnd not checked\n");
	(void)!write(hold[1], "x", 1);
	ck_assert_int_eq(end_of(pid), 0);
	close(ready[0]); close(ready[1]); close(hold[0]); close(hold[1]);
}
END_TEST

START_TEST(debug_mode_names_the_syscall)
{
	int out[2];
	char buf[512] = "";
	ssize_t n, got = 0;
	pid_t pid;

	ck_assert_int_eq(pipe(out), 0);
	if ((pid = fork()) == 0) {
		dup2(out[1], 2);
		close(out[0]);
		if (sandbox_enter("debug") != 0)
			_exit(99);
		sandbox_test_violation();
		_exit(1);
	}
	close(out[1]);
	while ((n = read(out[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	buf[got] = '\0';
	close(out[0]);
	ck_assert_int_eq(end_of(pid), KILLED);
	ck_assert_msg(strstr(buf, "msg=\"sandbox violation\" syscall=fork nr=") != NULL,
	    "stderr was: %s", buf);
}
END_TEST

START_TEST(refuses_when_the_filter_cannot_be_installed)
{
	pid_t pid = fork();

	if (pid == 0) {
		/* Someone before us forbids installing a filter. */
		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
		quiet();
		if (ctx == NULL || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    SCMP_SYS(seccomp), 0) != 0 || seccomp_load(ctx) != 0)
			_exit(98);
		seccomp_release(ctx);
		_exit(sandbox_enter("on") == -1 ? 0 : 1);
	}
	ck_assert_int_eq(end_of(pid), 0);
	ck_assert_int_eq(sandbox_enter("bogus"), -1);
}
END_TEST

/* limits_child - enter, then report the limits through the exit code. */
static int limits_child(void)
{
	struct rlimit core, fsize;

	if (sandbox_enter("on") != 0)
		return 99;
	if (getrlimit(RLIMIT_CORE, &core) != 0 || getrlimit(RLIMIT_FSIZE, &fsize) != 0)
		return 98;
	/* Logging must still work whatever stderr is. */
	if (write(2, "logged\n", 7) != 7)
		return 97;
	return (core.rlim_max == 0 ? 0 : 1) | (fsize.rlim_max == 0 ? 2 : 0) |
	    (sandbox_fsize_limited() ? 4 : 0);
}

START_TEST(file_size_limit_only_without_a_log_file)
{
	char path[] = "/tmp/pamop-sandbox-XXXXXX";
	int fd = mkstemp(path), p[2];
	pid_t pid;

	ck_assert_int_ge(fd, 0);
	unlink(path);
	if ((pid = fork()) == 0) {   /* stderr a regular file: no FSIZE */
		dup2(fd, 1);
		dup2(fd, 2);
		_exit(limits_child());
	}
	ck_assert_int_eq(end_of(pid), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_END), 7);
	close(fd);

	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {   /* pipes, as in a pod: FSIZE 0 */
		int null = open("/dev/null", O_RDONLY);
		dup2(null, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		_exit(limits_child());
	}
	ck_assert_int_eq(end_of(pid), 2 | 4);
	close(p[0]);
	close(p[1]);
}
END_TEST

Suite *sandbox_suite(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("sandbox");

	tcase_add_loop_test(tc, each_rule, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, threads_started_before_are_covered);
	tcase_add_test(tc, proc_status_shows_the_sandbox);
	tcase_add_test(tc, debug_mode_names_the_syscall);
	tcase_add_test(tc, refuses_when_the_filter_cannot_be_installed);
	tcase_add_test(tc, file_size_limit_only_without_a_log_file);
	suite_add_tcase(s, tc);
	return s;
}
