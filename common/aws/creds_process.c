/*
 * credential_process (in the config file): a command that prints the
 * documented JSON on stdout
 *   {"Version": 1, "AccessKeyId": "...", "SecretAccessKey": "...",
 *    "SessionToken": "...", "Expiration": "RFC 3339"}
 * (SessionToken and Expiration optional). Run as botocore runs it: split
 * into words like a POSIX shell (no shell, no expansion), then exec'd. Its
 * stdin is /dev/null, its stderr is ours (its own messages, written by the
 * process itself, end up in our log as they are), its stdout is capped at
 * TG_CREDS_PROCESS_OUT_MAX bytes and it is killed after the time limit.
 * A non-zero exit, a signal, or anything but that JSON is refused.
 */
#include "creds_int.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../dynbuf.h"
#include "../tgtime.h"

extern char **environ;

#define ARGS_MAX 64

int tg_creds_shell_split(const char *cmd, char *buf, size_t buf_size,
                         char **argv, int max)
{
        size_t o = 0;
        int n = 0, in_word = 0;
        char q = 0;

        for (const char *p = cmd;; p++) {
                char c = *p;

                if (!c && q)
                        return -1;
                if (!q && (!c || c == ' ' || c == '\t' || c == '\n')) {
                        if (in_word) {
                                if (o >= buf_size)
                                        return -1;
                                buf[o++] = '\0';
                                in_word = 0;
                        }
                        if (!c)
                                break;
                        continue;
                }
                if (!in_word) {
                        if (n >= max - 1)
                                return -1;
                        argv[n++] = buf + o;
                        in_word = 1;
                }
                if (!q && (c == '\'' || c == '"')) {
                        q = c;
                        continue;
                }
                if (q && c == q) {
                        q = 0;
                        continue;
                }
                if (c == '\\' && q != '\'' && p[1] &&
                    (!q || strchr("\\\"$`\n", p[1])))
                        c = *++p;
                if (o + 1 >= buf_size)
                        return -1;
                buf[o++] = c;
        }
        argv[n] = NULL;
        return n ? n : -1;
}

static const char *jstr(json_t *o, const char *key)
{
        return json_string_value(json_object_get(o, key));
}

int tg_creds_process_parse(const char *json, size_t len,
                           tg_creds_snapshot_t *out, char *errstr,
                           size_t errstr_size)
{
        json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
        json_t *v = json_object_get(root, "Version");
        json_t *tok = json_object_get(root, "SessionToken");
        json_t *exp = json_object_get(root, "Expiration");
        const char *id = jstr(root, "AccessKeyId");
        const char *secret = jstr(root, "SecretAccessKey");
        const char *why = NULL;

        if (!json_is_object(root))
                why = "output is not a JSON object";
        else if (!json_is_integer(v) || json_integer_value(v) != 1)
                why = "output lacks \"Version\": 1";
        else if (!id || !*id || !secret || !*secret)
                why = "output lacks AccessKeyId or SecretAccessKey";
        else if ((tok && !json_is_string(tok)) || (exp && !json_is_string(exp)))
                why = "SessionToken or Expiration is not a string";
        else if (tg_creds_copy(out->access_key_id, TG_CREDS_ID_MAX, id) ||
                 tg_creds_copy(out->secret_access_key, TG_CREDS_SECRET_MAX,
                               secret) ||
                 tg_creds_copy(out->session_token, TG_CREDS_TOKEN_MAX,
                               tok ? json_string_value(tok) : ""))
                why = "a credential in the output is too long";
        else if (exp &&
                 (tg_creds_copy(out->expiration, sizeof(out->expiration),
                                json_string_value(exp)) ||
                  tg_creds_parse_time(out->expiration, &out->expires_at)))
                why = "Expiration is not an RFC 3339 UTC time";
        json_decref(root);
        if (why) {
                snprintf(errstr, errstr_size, "credential_process: %s", why);
                tg_secret_wipe(out, sizeof(*out));
        }
        return why ? -1 : 0;
}

static int spawn(char **argv, int out_fd, pid_t *pid, char *errstr,
                 size_t errstr_size)
{
        posix_spawn_file_actions_t fa;
        int rc;

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
        posix_spawn_file_actions_addclose(&fa, out_fd);
        rc = posix_spawnp(pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc)
                snprintf(errstr, errstr_size,
                         "credential_process: cannot run %.200s: %s", argv[0],
                         strerror(rc));
        return rc ? -1 : 0;
}

/* Reads stdout into out until EOF, its cap or the deadline. 0, or -1 (why
 * in errstr). */
static int collect(int fd, tg_dynbuf_t *out, long timeout_ms, char *errstr,
                   size_t errstr_size)
{
        int64_t deadline = tg_mono_ms() + timeout_ms;
        struct pollfd pfd = {fd, POLLIN, 0};
        char chunk[4096], why[64];
        ssize_t r;

        for (;;) {
                int64_t left = deadline - tg_mono_ms();

                if (left <= 0) {
                        snprintf(errstr, errstr_size,
                                 "credential_process: no answer within %ld ms",
                                 timeout_ms);
                        return -1;
                }
                if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
                        return -1;
                if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                r = read(fd, chunk, sizeof(chunk));
                if (r == 0)
                        return 0;
                if (r < 0 && errno != EINTR && errno != EAGAIN)
                        return -1;
                if (r > 0) {
                        int full = tg_dynbuf_add(out, chunk, (size_t)r);

                        tg_secret_wipe(chunk, (size_t)r);
                        if (full)
                                return snprintf(errstr, errstr_size,
                                                "credential_process: output "
                                                "%s",
                                                tg_dynbuf_strerror(
                                                    out, why, sizeof(why))),
                                       -1;
                }
        }
}

/* Waits for the exit until the deadline (a process may close stdout and
 * linger), then kills it. */
static int reap(pid_t pid, int killed, int64_t deadline, char *errstr,
                size_t errstr_size)
{
        int st = 0;
        pid_t r = 0;

        while (!killed && (r = waitpid(pid, &st, WNOHANG)) == 0 &&
               tg_mono_ms() < deadline)
                usleep(5000);
        if (killed || r == 0) {
                kill(pid, SIGKILL);
                while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                        ;
                if (!killed)
                        snprintf(errstr, errstr_size,
                                 "credential_process: did not exit in time");
                return -1;
        }
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
                return 0;
        if (WIFEXITED(st))
                snprintf(errstr, errstr_size,
                         "credential_process: exit status %d", WEXITSTATUS(st));
        else
                snprintf(errstr, errstr_size,
                         "credential_process: killed by signal %d",
                         WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        return -1;
}

int tg_creds_process_run(const char *cmd, long timeout_ms,
                         tg_creds_snapshot_t *out, char *errstr,
                         size_t errstr_size)
{
        char words[TG_CREDS_CMD_MAX + 1], *argv[ARGS_MAX];
        tg_dynbuf_t buf; /* holds credentials: a secret buffer */
        int fds[2] = {-1, -1}, ret = -1, bad = 0;
        pid_t pid;

        int64_t deadline = tg_mono_ms() + timeout_ms;

        errstr[0] = '\0';
        tg_secret_wipe(out, sizeof(*out));
        tg_dynbuf_init_secret(&buf, TG_CREDS_PROCESS_OUT_MAX);
        if (tg_creds_shell_split(cmd, words, sizeof(words), argv, ARGS_MAX) <
            0) {
                snprintf(errstr, errstr_size,
                         "credential_process: empty, unbalanced quotes or too "
                         "many words");
                goto done;
        }
        if (pipe(fds) < 0 || fcntl(fds[0], F_SETFD, FD_CLOEXEC) < 0 ||
            spawn(argv, fds[1], &pid, errstr, errstr_size) < 0) {
                if (fds[0] >= 0 && !*errstr)
                        snprintf(errstr, errstr_size, "credential_process: %s",
                                 strerror(errno));
                goto done;
        }
        close(fds[1]);
        fds[1] = -1;
        bad = collect(fds[0], &buf, timeout_ms, errstr, errstr_size);
        if (reap(pid, bad, deadline, errstr, errstr_size) == 0)
                ret = tg_creds_process_parse(tg_dynbuf_ptr(&buf),
                                             tg_dynbuf_len(&buf), out, errstr,
                                             errstr_size);
done:
        for (int i = 0; i < 2; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        tg_dynbuf_free(&buf); /* wipes */
        return ret;
}
