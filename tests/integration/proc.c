/*
 * proc.c - see proc.h. Everything here reads /proc only; nothing is
 * asked of the process being looked at.
 */
#include "proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCAN_MAX_REGION (1ULL << 30)   /* sanitizer shadow maps are far larger */
#define SCAN_CHUNK (1 << 20)

void proc_status(pid_t pid, const char *name, char *out, size_t n)
{
	char path[64], line[512];
	size_t nl = strlen(name);
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;
			v += strspn(v, " \t");
			snprintf(out, n, "%s", v);
			out[strcspn(out, "\n")] = '\0';
			break;
		}
	fclose(f);
}

int proc_owner(pid_t pid, const char *file)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	return stat(path, &st) == 0 ? (int)st.st_uid : -1;
}

bool proc_alive(pid_t pid)
{
	char state[32];

	proc_status(pid, "State", state, sizeof(state));
	return state[0] != '\0' && state[0] != 'Z' && state[0] != 'X';
}

size_t proc_children(pid_t ppid, const char *comm, pid_t *out, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t n = 0;

	while (d && (e = readdir(d)) != NULL && n < max) {
		char path[300], buf[512], c[64];
		int pid = atoi(e->d_name), pp = 0;
		FILE *f;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		/* "pid (comm) state ppid ...": comm may hold spaces, so split at ')' */
		if (fgets(buf, sizeof(buf), f)) {
			char *open = strchr(buf, '('), *close = strrchr(buf, ')');
			if (open && close && close > open) {
				snprintf(c, sizeof(c), "%.*s", (int)(close - open - 1), open + 1);
				if (sscanf(close + 2, "%*c %d", &pp) == 1 && pp == ppid &&
				    strcmp(c, comm) == 0)
					out[n++] = pid;
			}
		}
		fclose(f);
	}
	if (d)
		closedir(d);
	return n;
}

/* open_files - "socket:[n]", "pipe:[n]" and paths held on fds > 2, one
 * per line; anonymous inodes are shared by all and so say nothing. */
static char *open_files(pid_t pid)
{
	char dir[64], *out = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&out, &len);
	DIR *d;
	struct dirent *e;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			char path[330], target[512];
			ssize_t n;
			if (atoi(e->d_name) <= 2)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			if ((n = readlink(path, target, sizeof(target) - 1)) <= 0)
				continue;
			target[n] = '\0';
			if (strncmp(target, "anon_inode:", 11) != 0 && strcmp(target, "/dev/null") != 0)
				fprintf(mem, "\n%s\n", target);
		}
		closedir(d);
	}
	fclose(mem);
	return out;
}

bool proc_shared_open_file(pid_t a, pid_t b, char *what, size_t n)
{
	char *fa = open_files(a), *fb = open_files(b);
	bool shared = false;

	for (char *p = fa; p && *p && !shared; p = strchr(p + 1, '\n')) {
		char line[540];
		const char *s = *p == '\n' ? p + 1 : p;
		size_t l = strcspn(s, "\n");
		if (l == 0)
			continue;
		snprintf(line, sizeof(line), "\n%.*s\n", (int)l, s);
		if (strstr(fb, line)) {
			snprintf(what, n, "%.*s", (int)l, s);
			shared = true;
		}
	}
	free(fa);
	free(fb);
	return shared;
}

/* scan_region - read [lo, hi) of mem in chunks that overlap by the
 * longest needle, so that nothing straddling two chunks is missed. */
static const char *scan_region(int mem, unsigned long long lo, unsigned long long hi,
    const char *const *needles, size_t maxlen, unsigned char *buf, size_t *scanned)
{
	for (unsigned long long at = lo; at < hi;) {
		size_t want = hi - at > SCAN_CHUNK ? SCAN_CHUNK : (size_t)(hi - at);
		ssize_t got = pread(mem, buf, want, (off_t)at);
		if (got <= 0)
			return NULL;   /* a guard page or a vanished mapping */
		*scanned += (size_t)got;
		for (size_t i = 0; needles[i]; i++)
			if (memmem(buf, (size_t)got, needles[i], strlen(needles[i])))
				return needles[i];
		if ((size_t)got < want || at + (size_t)got >= hi)
			break;
		at += (size_t)got - (maxlen - 1);
	}
	return NULL;
}

const char *proc_mem_find(pid_t pid, const char *const *needles, size_t *scanned)
{
	char path[64], line[600];
	const char *hit = NULL;
	size_t maxlen = 1;
	unsigned char *buf = malloc(SCAN_CHUNK);
	FILE *maps;
	int mem;

	*scanned = 0;
	for (size_t i = 0; needles[i]; i++)
		if (strlen(needles[i]) > maxlen)
			maxlen = strlen(needles[i]);
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "r");
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	mem = open(path, O_RDONLY);
	while (maps && mem >= 0 && buf && !hit && fgets(line, sizeof(line), maps)) {
		unsigned long long lo, hi;
		char perms[8];
		if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r' ||
		    hi - lo > SCAN_MAX_REGION || strstr(line, "[vvar]") || strstr(line, "[vsyscall]"))
			continue;
		hit = scan_region(mem, lo, hi, needles, maxlen, buf, scanned);
	}
	if (maps)
		fclose(maps);
	if (mem >= 0)
		close(mem);
	free(buf);
	return hit;
}
