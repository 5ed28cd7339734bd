/* server/log — the server log, in Redis's line format:
 *   <pid>:M <day> <mon> <year> <hh:mm:ss.mmm> <level char> <message>
 * To stdout when logfile is "" (foreground sidecars log to their supervisor),
 * else appended to the file. */
#include "server/server.h"
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

void server_log_raw(int level, const char *msg) {
    if (level < server.verbosity) return;
    static const char marks[] = ".-*#";
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char ts[64];
    size_t n = strftime(ts, sizeof(ts), "%d %b %Y %H:%M:%S.", &tm);
    snprintf(ts + n, sizeof(ts) - n, "%03d", (int)(tv.tv_usec / 1000));
    FILE *f = stdout;
    int own = 0;
    if (server.logfile && server.logfile[0]) {
        f = fopen(server.logfile, "a");
        if (!f) return;
        own = 1;
    }
    fprintf(f, "%d:M %s %c %s\n", (int)getpid(), ts, marks[level < 3 ? level : 3], msg);
    fflush(f);
    if (own) fclose(f);
}

void server_log(int level, const char *fmt, ...) {
    if (level < server.verbosity) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    server_log_raw(level, msg);
}
