/* tests/integration/pgkit — see pgkit.h. */
#include "pgkit.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct {
    int up;         /* started and not yet stopped */
    int made;       /* the folder exists */
    char bin[256];  /* .../bin of the PostgreSQL installation */
    char dir[128];  /* the temporary folder */
    char data[200]; /* dir/data */
    char log[200];  /* dir/server.log: pg_ctl's and initdb's output */
    int port;
    char conninfo[400];
    char opts[400]; /* pg_set_options */
    uid_t uid;      /* the postgres user when we run as root, else ours */
    gid_t gid;
} pg;

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

/* The newest /usr/lib/postgresql/<version>/bin that has initdb and pg_ctl. */
static int find_bin(void) {
    glob_t g;
    if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) != 0) return -1;
    int best = -1;
    long bestv = -1;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        long v = strtol(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"), NULL, 10);
        if (v > bestv) bestv = v, best = (int)i;
    }
    if (best >= 0) {
        snprintf(pg.bin, sizeof(pg.bin), "%s", g.gl_pathv[best]);
        *strrchr(pg.bin, '/') = 0;
    }
    globfree(&g);
    return best >= 0 ? 0 : -1;
}

/* Runs bin/prog with argv (NULL-terminated, argv[0] = prog) as the postgres
 * user, output appended to the log; returns its exit status (-1: not run). */
static int run_pg(const char *const *argv) {
    char path[400];
    snprintf(path, sizeof(path), "%s/%s", pg.bin, argv[0]);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (geteuid() == 0) {
            if (setgroups(0, NULL) != 0 || setgid(pg.gid) != 0 || setuid(pg.uid) != 0) _exit(126);
        }
        /* opened as postgres: the postmaster appends to the same log */
        int fd = open(pg.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (chdir(pg.dir) != 0) _exit(126);
        unsetenv("PGDATA");
        unsetenv("PGHOST");
        unsetenv("PGPORT");
        execv(path, (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void remove_dir(void) {
    if (!pg.made) return;
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/rm", "rm", "-rf", pg.dir, (char *)NULL);
        _exit(127);
    }
    if (pid > 0) waitpid(pid, NULL, 0);
    pg.made = 0;
}

static int alive(pid_t pid) {
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* Async-signal-safe enough for a dying test: no pg_ctl, just SIGQUIT (the
 * postmaster's immediate shutdown) and the folder removed. */
static void on_signal(int sig) {
    if (pg.up) {
        pid_t pm = pg_postmaster_pid();
        if (pm > 0) kill(pm, SIGQUIT);
        for (int i = 0; i < 100 && alive(pm); i++) sleep_ms(50);
        pg.up = 0;
    }
    remove_dir();
    signal(sig, SIG_DFL);
    raise(sig);
}

pid_t pg_postmaster_pid(void) {
    char path[256], line[32];
    snprintf(path, sizeof(path), "%s/postmaster.pid", pg.data);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, line, sizeof(line) - 1);
    close(fd);
    if (n <= 0) return -1;
    line[n] = 0;
    return (pid_t)atol(line);
}

void pg_set_options(const char *opts) {
    snprintf(pg.opts, sizeof(pg.opts), "%s", opts ? opts : "");
}

static int pg_ctl_start(void) {
    char opts[900];
    snprintf(opts, sizeof(opts),
             "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off "
             "-c max_connections=50 %s",
             pg.port, pg.dir, pg.opts);
    const char *argv[] = {"pg_ctl", "-D", pg.data, "-l", pg.log,  "-w",
                          "-t",     "60", "-o",    opts, "start", NULL};
    if (run_pg(argv) != 0) {
        fprintf(stderr, "pgkit: pg_ctl start failed (see %s)\n", pg.log);
        return -1;
    }
    pg.up = 1;
    return 0;
}

/* A watchdog process that outlives a test killed with SIGKILL (which no
 * handler sees): it waits for the end of a pipe whose write end only the
 * test holds (close-on-exec, so no server the test runs keeps it open) and
 * then stops PostgreSQL and removes the folder. */
static pid_t watchdog_pid = -1;
static int watchdog_fd = -1;

static void start_watchdog(void) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        close(fds[1]);
        int sigs[] = {SIGINT, SIGTERM, SIGHUP};
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) signal(sigs[i], SIG_IGN);
        char c;
        while (read(fds[0], &c, 1) != 0 && errno == EINTR) {
        }
        if (pg.up) {
            pid_t pm = pg_postmaster_pid();
            if (pm > 0) kill(pm, SIGQUIT);
            for (int i = 0; i < 100 && alive(pm); i++) sleep_ms(50);
        }
        remove_dir();
        _exit(0);
    }
    close(fds[0]);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    watchdog_pid = pid;
    watchdog_fd = fds[1];
}

static void stop_watchdog(void) {
    if (watchdog_pid <= 0) return;
    close(watchdog_fd); /* the watchdog finds nothing left to do */
    waitpid(watchdog_pid, NULL, 0);
    watchdog_pid = -1;
    watchdog_fd = -1;
}

int pg_start(void) {
    if (pg.up) return 0;
    if (find_bin() != 0) {
        fprintf(stderr, "pgkit: no /usr/lib/postgresql/*/bin/initdb: install Debian's "
                        "postgresql (mk/deps.sh test)\n");
        return -1;
    }
    pg.uid = geteuid();
    pg.gid = getegid();
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (!pw) {
            fprintf(stderr, "pgkit: running as root and there is no postgres user\n");
            return -1;
        }
        pg.uid = pw->pw_uid;
        pg.gid = pw->pw_gid;
    }
    snprintf(pg.dir, sizeof(pg.dir), "/tmp/larder-pg-XXXXXX");
    if (!mkdtemp(pg.dir)) return -1;
    pg.made = 1;
    if (chown(pg.dir, pg.uid, pg.gid) != 0 || chmod(pg.dir, 0700) != 0) {
        fprintf(stderr, "pgkit: cannot give %s to the postgres user\n", pg.dir);
        remove_dir();
        return -1;
    }
    snprintf(pg.data, sizeof(pg.data), "%s/data", pg.dir);
    snprintf(pg.log, sizeof(pg.log), "%s/server.log", pg.dir);
    pg.up = 1; /* for the watchdog: whatever runs in the folder is stopped */
    start_watchdog();
    pg.up = 0;
    atexit(pg_stop);
    int sigs[] = {SIGINT, SIGTERM, SIGABRT, SIGSEGV, SIGBUS, SIGHUP};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) signal(sigs[i], on_signal);
    const char *initdb[] = {"initdb", "-D",   pg.data,      "-U",        "postgres", "--auth=trust",
                            "-E",     "UTF8", "--locale=C", "--no-sync", NULL};
    if (run_pg(initdb) != 0) {
        fprintf(stderr, "pgkit: initdb failed (see %s)\n", pg.log);
        pg_stop();
        return -1;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        pg.port = free_port();
        if (pg_ctl_start() == 0) break;
    }
    if (!pg.up) {
        pg_stop();
        return -1;
    }
    snprintf(pg.conninfo, sizeof(pg.conninfo), "host=%s port=%d user=postgres dbname=postgres",
             pg.dir, pg.port);
    return 0;
}

void pg_stop(void) {
    if (pg.up) {
        const char *argv[] = {"pg_ctl", "-D", pg.data, "-m", "fast", "-w", "stop", NULL};
        if (run_pg(argv) != 0) {
            pid_t pm = pg_postmaster_pid();
            if (pm > 0) kill(pm, SIGQUIT);
            for (int i = 0; i < 100 && alive(pm); i++) sleep_ms(50);
        }
        pg.up = 0;
    }
    remove_dir();
    stop_watchdog();
}

const char *pg_conninfo(void) {
    return pg.conninfo;
}

int pg_port(void) {
    return pg.port;
}

const char *pg_module_path(void) {
    static char path[PATH_MAX];
    if (path[0]) return path;
    const char *b = getenv("LARDER_BUILD");
    char rel[PATH_MAX];
    snprintf(rel, sizeof(rel), "%s/modules/pgstore.so", b && *b ? b : "build");
    if (!realpath(rel, path)) snprintf(path, sizeof(path), "%s", rel);
    return path;
}

/* The pids whose parent is pm (the postmaster's children). */
static int children_of(pid_t pm, pid_t *out, int max) {
    DIR *d = opendir("/proc");
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        pid_t pid = (pid_t)atol(e->d_name);
        if (pid <= 0) continue;
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t len = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[len] = 0;
        char *rp = strrchr(buf, ')'); /* the command name may hold spaces */
        int ppid = 0;
        if (rp && sscanf(rp + 2, "%*c %d", &ppid) == 1 && ppid == pm) out[n++] = pid;
    }
    closedir(d);
    return n;
}

int pg_kill9(void) {
    pid_t pm = pg_postmaster_pid();
    if (pm <= 0 || !pg.up) return -1;
    pid_t kids[256];
    int n = children_of(pm, kids, 256);
    kill(pm, SIGKILL);
    for (int i = 0; i < n; i++) kill(kids[i], SIGKILL);
    for (int i = 0; i < 200; i++) {
        int any = alive(pm);
        for (int k = 0; k < n; k++) any |= alive(kids[k]);
        if (!any) break;
        sleep_ms(25);
    }
    pg.up = 0;
    return alive(pm) ? -1 : 0;
}

int pg_halt(void) {
    if (!pg.up) return -1;
    const char *argv[] = {"pg_ctl", "-D", pg.data, "-m", "fast", "-w", "stop", NULL};
    if (run_pg(argv) != 0) return -1;
    pg.up = 0;
    return 0;
}

int pg_restart(void) {
    if (pg.up) return 0;
    return pg_ctl_start();
}

int pg_psql(const char *sql) {
    char file[256];
    snprintf(file, sizeof(file), "%s/psql-input.sql", pg.dir);
    FILE *f = fopen(file, "w");
    if (!f) return -1;
    fputs(sql, f);
    fclose(f);
    if (chown(file, pg.uid, pg.gid) != 0) return -1;
    char port[16];
    snprintf(port, sizeof(port), "%d", pg.port);
    const char *argv[] = {"psql", "-X", "-q",       "-v", "ON_ERROR_STOP=1", "-h", pg.dir, "-p",
                          port,   "-U", "postgres", "-d", "postgres",        "-f", file,   NULL};
    return run_pg(argv);
}
