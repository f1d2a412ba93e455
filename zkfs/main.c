/*
 * zkfs: mount a ZooKeeper tree (DESIGN.md §3).
 *
 *   zkfs [servers] mountpoint [-o opt[,opt...]] [-f] [-d]
 *
 * Options: servers=h:p[,h:p][/chroot], root=/prefix, timeout=SECONDS (every call answers
 * within it; default 10), session_timeout=SECONDS (default 30), ro, allow_other,
 * auth=[digest:]user:password or auth=/file holding that, uid=, gid=, attr_timeout=SECONDS,
 * logfile=PATH (else a daemon logs to syslog),
 * watch=persistent|oneshot, debug. Mount-helper words (rw, dev, suid, exec, auto,
 * _netdev, defaults, ...) are accepted and ignored, so fstab lines and
 * `mount -t fuse.zkfs h:2181 /zk` work. Servers come from the argument or servers=, then
 * /etc/zkfs.conf, then 127.0.0.1:2181.
 *
 * Start-up: fork (unless -f) with a pipe back to the parent; the child connects, checks the
 * root znode, mounts, starts the notifier and reports; the parent exits 0 only then, so
 * `zkfs ... && ls /zk` works. A clean unmount (fusermount3 -u, umount, SIGTERM) closes the
 * session (deleting our ephemerals) and exits 0.
 */
#include "zkfs.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

struct zkfs *g_fs;

void zkfs_set_cache_timeout(double seconds)
{
	if (g_fs->o.attr_timeout_s >= 0 && g_fs->o.attr_timeout_s < seconds)
		seconds = g_fs->o.attr_timeout_s;
	g_fs->timeout_s = seconds;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zkfs [servers] mountpoint [-o opt[,opt...]] [-f] [-d]\n"
		"  servers            host:port[,host:port...][/chroot] (default 127.0.0.1:2181)\n"
		"  -f                 stay in the foreground\n"
		"  -d                 debug (foreground, FUSE and client traces)\n"
		"  -o servers=LIST    same as the servers argument\n"
		"  -o root=/PATH      mount the subtree at PATH\n"
		"  -o timeout=SEC     longest time any call may take (default 10)\n"
		"  -o session_timeout=SEC  requested ZooKeeper session timeout (default 30)\n"
		"  -o ro              read-only\n"
		"  -o allow_other     let other users in\n"
		"  -o auth=[digest:]USER:PASS  digest identity for ACLs; auth=/FILE reads it\n"
		"                     from the first line of FILE (keeps it out of ps and fstab)\n"
		"  -o uid=USER, gid=GROUP  owner shown for every file (default: the mounter)\n"
		"  -o logfile=PATH    where the daemon logs (default: syslog, facility daemon)\n"
		"  -o attr_timeout=SEC  longest time the kernel may cache names and attributes\n"
		"                     (default 3600 while the watch keeps the cache current,\n"
		"                     1 otherwise; 0: ask zkfs every time)\n"
		"  -o watch=persistent|oneshot  one persistent recursive watch (default; falls\n"
		"                     back to oneshot when the server refuses it) or one-shot\n"
		"                     watches re-armed on each event (servers older than 3.6)\n");
}

/* "10", "10s", "500ms" -> milliseconds; -1 when malformed. */
static int parse_ms(const char *s)
{
	char *e;
	double v = strtod(s, &e);

	if (e == s || v < 0)
		return -1;
	if (!strcmp(e, "ms"))
		return (int)v;
	if (!*e || !strcmp(e, "s"))
		return (int)(v * 1000);
	return -1;
}

static int ignored_opt(const char *o)
{
	static const char *words[] = { "rw", "dev", "nodev", "suid", "nosuid", "exec", "noexec",
				       "atime", "noatime", "relatime", "strictatime", "auto",
				       "noauto", "user", "users", "nouser", "defaults",
				       "_netdev", "nofail", "async", "sync", "default_permissions",
				       NULL };
	int i;

	if (!strncmp(o, "x-", 2) || !strncmp(o, "fsname=", 7) || !strncmp(o, "subtype=", 8) ||
	    !strncmp(o, "comment=", 8))
		return 1;
	for (i = 0; words[i]; i++)
		if (!strcmp(o, words[i]))
			return 1;
	return 0;
}

/* A user or group given by number or name; -1 when unknown. */
static long parse_id(const char *s, int group)
{
	char *e;
	long v = strtol(s, &e, 10);

	if (*s && !*e && v >= 0)
		return v;
	if (group) {
		struct group *g = getgrnam(s);

		return g ? (long)g->gr_gid : -1;
	} else {
		struct passwd *pw = getpwnam(s);

		return pw ? (long)pw->pw_uid : -1;
	}
}

/*
 * auth=[digest:]user:password, or auth=/path whose first line is that (so the password is
 * not in ps, /proc/mounts or a world-readable fstab). Returns "user:password" or NULL.
 */
static char *parse_auth(const char *v)
{
	char line[4096];
	char *res;

	if (v[0] == '/') {
		FILE *f = fopen(v, "r");

		if (!f) {
			fprintf(stderr, "zkfs: auth file %s: %s\n", v, strerror(errno));
			return NULL;
		}
		if (!fgets(line, sizeof(line), f))
			line[0] = 0;
		fclose(f);
		line[strcspn(line, "\r\n")] = 0;
		v = line;
	}
	if (!strncmp(v, "digest:", 7))
		v += 7;
	if (!strchr(v, ':') || v[0] == ':') {
		fprintf(stderr, "zkfs: bad auth: want [digest:]user:password\n");
		return NULL;
	}
	res = strdup(v);
	explicit_bzero(line, sizeof(line));
	return res;
}

static int parse_opts(struct zkfs_opts *o, char *list)
{
	char *save = NULL, *t;

	for (t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strncmp(t, "servers=", 8)) {
			free(o->servers);
			o->servers = strdup(t + 8);
		} else if (!strncmp(t, "root=", 5)) {
			free(o->root);
			o->root = strdup(t + 5);
		} else if (!strncmp(t, "timeout=", 8)) {
			o->timeout_ms = parse_ms(t + 8);
			if (o->timeout_ms <= 0) {
				fprintf(stderr, "zkfs: bad timeout '%s'\n", t + 8);
				return -1;
			}
		} else if (!strncmp(t, "session_timeout=", 16)) {
			o->session_timeout_ms = parse_ms(t + 16);
			if (o->session_timeout_ms <= 0) {
				fprintf(stderr, "zkfs: bad session_timeout '%s'\n", t + 16);
				return -1;
			}
		} else if (!strcmp(t, "ro")) {
			o->ro = 1;
		} else if (!strcmp(t, "allow_other")) {
			o->allow_other = 1;
		} else if (!strncmp(t, "auth=", 5)) {
			free(o->auth);
			o->auth = parse_auth(t + 5);
			if (!o->auth)
				return -1;
		} else if (!strncmp(t, "uid=", 4) || !strncmp(t, "gid=", 4)) {
			long id = parse_id(t + 4, t[0] == 'g');

			if (id < 0) {
				fprintf(stderr, "zkfs: unknown %s '%s'\n", t[0] == 'g' ? "group" : "user",
					t + 4);
				return -1;
			}
			if (t[0] == 'g')
				o->gid = id;
			else
				o->uid = id;
		} else if (!strncmp(t, "attr_timeout=", 13)) {
			int ms = parse_ms(t + 13);

			if (ms < 0) {
				fprintf(stderr, "zkfs: bad attr_timeout '%s'\n", t + 13);
				return -1;
			}
			o->attr_timeout_s = ms / 1000.0;
		} else if (!strcmp(t, "watch=oneshot")) {
			o->watch_oneshot = 1;
		} else if (!strcmp(t, "watch=persistent")) {
			o->watch_oneshot = 0;
		} else if (!strncmp(t, "logfile=", 8)) {
			free(o->logfile);
			o->logfile = strdup(t + 8);
		} else if (!strcmp(t, "debug")) {
			o->debug = 1;
			o->foreground = 1;
		} else if (!ignored_opt(t)) {
			fprintf(stderr, "zkfs: unknown option '%s'\n", t);
			return -1;
		}
	}
	return 0;
}

static char *servers_from_conf(void)
{
	FILE *f = fopen("/etc/zkfs.conf", "r");
	char line[4096];
	char *res = NULL;

	if (!f)
		return NULL;
	while (!res && fgets(line, sizeof(line), f)) {
		char *p = line, *e;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || !*p)
			continue;
		if (!strncmp(p, "servers", 7)) {
			p += 7;
			while (*p == ' ' || *p == '=' || *p == '\t')
				p++;
		}
		e = p + strcspn(p, " \t\r\n");
		*e = 0;
		if (*p)
			res = strdup(p);
	}
	fclose(f);
	return res;
}

static int parse_args(struct zkfs_opts *o, int argc, char **argv)
{
	char *pos[2] = { NULL, NULL };
	int npos = 0, i;

	o->timeout_ms = 10000;
	o->session_timeout_ms = 30000;
	o->uid = o->gid = -1;
	o->attr_timeout_s = -1;
	for (i = 1; i < argc; i++) {
		char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "-f")) {
			o->foreground = 1;
		} else if (!strcmp(a, "-d")) {
			o->debug = 1;
			o->foreground = 1;
		} else if (!strcmp(a, "-o") || !strncmp(a, "-o", 2)) {
			char *list = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
			char *copy;

			if (!list) {
				usage(stderr);
				return -1;
			}
			copy = strdup(list);
			if (!copy || parse_opts(o, copy)) {
				free(copy);
				return -1;
			}
			free(copy);
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "zkfs: unknown flag '%s'\n", a);
			usage(stderr);
			return -1;
		} else if (npos < 2) {
			pos[npos++] = a;
		} else {
			fprintf(stderr, "zkfs: too many arguments\n");
			usage(stderr);
			return -1;
		}
	}
	if (npos == 0) {
		usage(stderr);
		return -1;
	}
	if (npos == 2 && strcmp(pos[0], "zkfs") != 0 && strcmp(pos[0], "none") != 0 &&
	    !o->servers) {
		char *s = pos[0];

		if (!strncmp(s, "zkfs#", 5))
			s += 5;
		o->servers = strdup(s);
	}
	if (!o->servers)
		o->servers = servers_from_conf();
	if (!o->servers)
		o->servers = strdup("127.0.0.1:2181");
	o->mountpoint = realpath(pos[npos - 1], NULL);
	if (!o->mountpoint) {
		fprintf(stderr, "zkfs: bad mountpoint '%s': %s\n", pos[npos - 1], strerror(errno));
		return -1;
	}
	if (!o->root || !strcmp(o->root, "/")) {
		free(o->root);
		o->root = strdup("");
	} else if (o->root[0] != '/' || o->root[strlen(o->root) - 1] == '/') {
		fprintf(stderr, "zkfs: bad root '%s': must be an absolute znode path\n", o->root);
		return -1;
	}
	return 0;
}

/* ---- the loop ------------------------------------------------------------------------ */

static void closed_handle(uv_handle_t *h)
{
}

static void zk_closed(struct zkc *c, void *arg)
{
	uv_close((uv_handle_t *)&g_fs->sigint, closed_handle);
	uv_close((uv_handle_t *)&g_fs->sigterm, closed_handle);
}

static void shutdown_fs(void)
{
	if (g_fs->exiting)
		return;
	g_fs->exiting = 1;
	uv_poll_stop(&g_fs->fuse_poll);
	uv_close((uv_handle_t *)&g_fs->fuse_poll, closed_handle);
	fuse_session_unmount(g_fs->se);
	notifier_stop(g_fs);
	zkc_close(g_fs->zk, zk_closed, NULL);
}

static void fuse_poll_cb(uv_poll_t *h, int status, int events)
{
	int i;

	for (i = 0; i < 64 && !g_fs->exiting; i++) {
		int res = fuse_session_receive_buf(g_fs->se, &g_fs->fbuf);

		if (res == -EINTR)
			continue;
		if (res == -EAGAIN)
			break;
		if (res <= 0) {
			shutdown_fs();
			return;
		}
		fuse_session_process_buf(g_fs->se, &g_fs->fbuf);
		if (fuse_session_exited(g_fs->se)) {
			shutdown_fs();
			return;
		}
	}
}

static void signal_cb(uv_signal_t *s, int sig)
{
	log_info("signal %d: unmounting %s", sig, g_fs->o.mountpoint);
	shutdown_fs();
}

static void report(int fd, int status)
{
	char c = (char)status;

	if (fd >= 0) {
		if (write(fd, &c, 1) != 1)
			log_warn("cannot report start-up status to the parent");
		close(fd);
	}
}

static int run(struct zkfs *fs, int report_fd)
{
	struct zkc_opts zo;
	char *servers = NULL, *fsname = NULL, *mopts = NULL;
	char *fargv[8];
	int fargc = 0, rc, fd;
	struct fuse_args args;
	struct zk_req r;
	struct zk_resp resp;

	fs->loop = uv_default_loop();
	fs->uid = fs->o.uid >= 0 ? (uid_t)fs->o.uid : getuid();
	fs->gid = fs->o.gid >= 0 ? (gid_t)fs->o.gid : getgid();
	zkfs_set_cache_timeout(fs->o.watch_oneshot ? 1.0 : 3600.0);
	fs->persistent_watch = !fs->o.watch_oneshot;
	inode_table_init();
	if (asprintf(&servers, "%s%s", fs->o.servers, fs->o.root) < 0)
		return 1;
	memset(&zo, 0, sizeof(zo));
	zo.servers = servers;
	zo.session_timeout_ms = fs->o.session_timeout_ms;
	zo.request_timeout_ms = fs->o.timeout_ms;
	zo.watch_cb = zkfs_watch_cb;
	zo.state_cb = zkfs_state_cb;
	zo.arg = fs;
	if (zkc_new(fs->loop, &zo, &fs->zk)) {
		fprintf(stderr, "zkfs: bad server list '%s'\n", servers);
		return 1;
	}
	if (fs->o.auth && zkc_add_auth(fs->zk, "digest", fs->o.auth, (int32_t)strlen(fs->o.auth),
				       NULL, NULL)) {
		fprintf(stderr, "zkfs: bad auth option\n");
		return 1;
	}
	rc = zkc_wait_connected(fs->zk, fs->o.timeout_ms);
	if (rc) {
		fprintf(stderr, "zkfs: cannot connect to zookeeper at '%s': %s\n", fs->o.servers,
			zk_strerror(rc));
		return 1;
	}
	memset(&r, 0, sizeof(r));
	r.type = ZOP_EXISTS;
	r.path = "/";
	rc = zkc_call(fs->zk, &r, &resp);
	zk_resp_release(&resp);
	if (rc) {
		fprintf(stderr, "zkfs: root '%s' on '%s': %s\n", *fs->o.root ? fs->o.root : "/",
			fs->o.servers, rc == ZNONODE ? "no such znode" : zk_strerror(rc));
		return 1;
	}
	if (asprintf(&fsname, "fsname=zkfs:%s%s,subtype=zkfs%s%s", fs->o.servers, fs->o.root,
		     fs->o.allow_other ? ",allow_other" : "", fs->o.ro ? ",ro" : "") < 0)
		return 1;
	/* a comma inside the server list would split the option: escape it */
	{
		size_t i, j = 0, l = strlen(fsname);

		mopts = malloc(2 * l + 1);
		if (!mopts)
			return 1;
		for (i = 0; i < l; i++) {
			int in_name = i < strlen("fsname=zkfs:") + strlen(fs->o.servers) +
						  strlen(fs->o.root);

			if (fsname[i] == ',' && in_name)
				mopts[j++] = '\\';
			mopts[j++] = fsname[i];
		}
		mopts[j] = 0;
	}
	fargv[fargc++] = "zkfs";
	fargv[fargc++] = "-o";
	fargv[fargc++] = mopts;
	if (fs->o.debug)
		fargv[fargc++] = "-d";
	fargv[fargc] = NULL;
	args = (struct fuse_args)FUSE_ARGS_INIT(fargc, fargv);
	fs->se = fuse_session_new(&args, &zkfs_ops, sizeof(zkfs_ops), fs);
	if (!fs->se) {
		fprintf(stderr, "zkfs: cannot create the FUSE session\n");
		return 1;
	}
	if (fuse_session_mount(fs->se, fs->o.mountpoint)) {
		fprintf(stderr, "zkfs: cannot mount on '%s'\n", fs->o.mountpoint);
		return 1;
	}
	fd = fuse_session_fd(fs->se);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	uv_poll_init(fs->loop, &fs->fuse_poll, fd);
	uv_poll_start(&fs->fuse_poll, UV_READABLE, fuse_poll_cb);
	if (notifier_start(fs)) {
		fprintf(stderr, "zkfs: cannot start the notifier thread\n");
		fuse_session_unmount(fs->se);
		return 1;
	}
	uv_signal_init(fs->loop, &fs->sigint);
	uv_signal_init(fs->loop, &fs->sigterm);
	uv_signal_start(&fs->sigint, signal_cb, SIGINT);
	uv_signal_start(&fs->sigterm, signal_cb, SIGTERM);
	/* a daemon says nothing on success, like mount(8) */
	if (fs->o.foreground)
		log_info("mounted %s%s on %s", fs->o.servers, fs->o.root, fs->o.mountpoint);
	if (report_fd >= 0) {
		int nul = open("/dev/null", O_RDWR);
		int lf = fs->o.logfile ? open(fs->o.logfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
					      0640) : -1;

		if (fs->o.logfile && lf < 0)
			log_warn("logfile %s: %s; logging to syslog", fs->o.logfile,
				 strerror(errno));
		report(report_fd, 0);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			if (!fs->o.debug)
				dup2(lf >= 0 ? lf : nul, 2);
			if (nul > 2)
				close(nul);
		}
		if (lf > 2)
			close(lf);
		/* A daemon's session expiries and failures must land somewhere. */
		if (lf < 0 && !fs->o.debug)
			log_use_syslog("zkfs");
	}
	uv_run(fs->loop, UV_RUN_DEFAULT);
	fuse_session_destroy(fs->se);
	free(fs->fbuf.mem);
	free(servers);
	free(fsname);
	free(mopts);
	log_info("unmounted %s", fs->o.mountpoint);
	return 0;
}

int main(int argc, char **argv)
{
	static struct zkfs fs;
	int pfd[2] = { -1, -1 };
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (parse_args(&fs.o, argc, argv))
		return 2;
	if (fs.o.debug)
		log_set_level(LOG_DEBUG);
	g_fs = &fs;
	if (!fs.o.foreground) {
		pid_t pid;
		char c = 1;

		if (pipe(pfd)) {
			perror("zkfs: pipe");
			return 1;
		}
		pid = fork();
		if (pid < 0) {
			perror("zkfs: fork");
			return 1;
		}
		if (pid > 0) {
			close(pfd[1]);
			if (read(pfd[0], &c, 1) != 1)
				c = 1;
			return c;
		}
		close(pfd[0]);
		setsid();
		if (chdir("/"))
			log_warn("cannot chdir to /");
	}
	rc = run(&fs, pfd[1]);
	if (rc)
		report(pfd[1], rc);
	return rc;
}
