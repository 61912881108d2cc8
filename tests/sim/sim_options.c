#include "sim_options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef int (*sim_opt_set_fn)(sim_opts_t *o, const char *val, char *errstr,
                              size_t errstr_size);

typedef struct sim_opt_def {
        const char *name;
        const char *env;
        const char *arg; /* NULL: a switch */
        sim_opt_set_fn set;
        const char *help;
} sim_opt_def_t;

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
        char *end;
        unsigned long long v;

        if (*s == '-' || *s == '\0')
                return -1;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (*end || errno || v > max)
                return -1;
        *out = v;
        return 0;
}

static int bad(const char *what, const char *val, char *errstr, size_t size)
{
        snprintf(errstr, size, "bad %s: '%.64s'", what, val);
        return -1;
}

static int copy_str(char *dst, size_t size, const char *val, const char *what,
                    char *errstr, size_t errstr_size)
{
        if (strlen(val) >= size)
                return bad(what, "(too long)", errstr, errstr_size);
        strcpy(dst, val);
        return 0;
}

#define SIM_NUM_SETTER(fn, field, max, what)                                   \
        static int fn(sim_opts_t *o, const char *val, char *errstr,            \
                      size_t errstr_size)                                      \
        {                                                                      \
                uint64_t v;                                                    \
                if (parse_u64(val, (max), &v))                                 \
                        return bad(what, val, errstr, errstr_size);            \
                o->field = v;                                                  \
                return 0;                                                      \
        }

SIM_NUM_SETTER(set_port, port, 65535, "port")
SIM_NUM_SETTER(set_threads, threads, 1024, "thread count")
SIM_NUM_SETTER(set_max_conn, max_connections, 1000000, "connection limit")
SIM_NUM_SETTER(set_max_body, max_body_bytes, 1u << 30, "body limit")
SIM_NUM_SETTER(set_quota, knobs.quota_rps, 10000000, "quota")

#define SIM_STR_SETTER(fn, field, what)                                        \
        static int fn(sim_opts_t *o, const char *val, char *errstr,            \
                      size_t errstr_size)                                      \
        {                                                                      \
                return copy_str(o->field, sizeof(o->field), val, what, errstr, \
                                errstr_size);                                  \
        }

SIM_STR_SETTER(set_bind, bind, "bind address")
SIM_STR_SETTER(set_akid, access_key_id, "access key id")
SIM_STR_SETTER(set_secret, secret_access_key, "secret access key")
SIM_STR_SETTER(set_token, session_token, "session token")
SIM_STR_SETTER(set_bearer, bearer_token, "bearer token")
SIM_STR_SETTER(set_region, region, "region")
SIM_STR_SETTER(set_sts_akid, sts_access_key_id, "STS access key id")
SIM_STR_SETTER(set_sts_secret, sts_secret_access_key, "STS secret")
SIM_STR_SETTER(set_web_token, web_identity_token, "web identity token")
SIM_STR_SETTER(set_imds_role, imds_role, "IMDS role")
SIM_NUM_SETTER(set_creds_lifetime, creds_lifetime_s, 86400, "lifetime")

static int set_seed(sim_opts_t *o, const char *val, char *errstr,
                    size_t errstr_size)
{
        if (parse_u64(val, UINT64_MAX, &o->seed))
                return bad("seed", val, errstr, errstr_size);
        o->has_seed = 1;
        return 0;
}

static int set_output_tokens(sim_opts_t *o, const char *val, char *errstr,
                             size_t errstr_size)
{
        uint64_t v;

        if (parse_u64(val, SIM_OUTPUT_TOKENS_MAX, &v) || v < 1)
                return bad("output token count", val, errstr, errstr_size);
        o->knobs.output_tokens = v;
        return 0;
}

static int set_latency(sim_opts_t *o, const char *val, char *errstr,
                       size_t errstr_size)
{
        return sim_latency_parse(val, &o->knobs.latency, errstr, errstr_size);
}

static int set_latency_ms(sim_opts_t *o, const char *val, char *errstr,
                          size_t errstr_size)
{
        if (strchr(val, ':'))
                return bad("latency in ms", val, errstr, errstr_size);
        return set_latency(o, val, errstr, errstr_size);
}

static int set_throttle(sim_opts_t *o, const char *val, char *errstr,
                        size_t errstr_size)
{
        if (sim_knobs_parse_rate(val, &o->knobs.throttle_rate))
                return bad("throttle rate (want 0..1)", val, errstr,
                           errstr_size);
        return 0;
}

/* Repeatable; the environment variable takes a comma-separated list. */
static int set_error_rate(sim_opts_t *o, const char *val, char *errstr,
                          size_t errstr_size)
{
        char buf[512], *save = NULL, *tok;

        if (strlen(val) >= sizeof(buf))
                return bad("error rates", "(too long)", errstr, errstr_size);
        strcpy(buf, val);
        for (tok = strtok_r(buf, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save))
                if (sim_knobs_set_error_rate(&o->knobs, tok, errstr,
                                             errstr_size))
                        return -1;
        return 0;
}

static int set_verbose(sim_opts_t *o, const char *val, char *errstr,
                       size_t errstr_size)
{
        o->verbose = 1;
        return 0;
}

static const sim_opt_def_t sim_opt_defs[] = {
    {"port", "TOLLGATE_SIM_PORT", "P", set_port,
     "listen port (default 18080; 0 picks a free one)"},
    {"bind", "TOLLGATE_SIM_BIND", "ADDR", set_bind,
     "IPv4 address to listen on (default 127.0.0.1)"},
    {"latency-ms", "TOLLGATE_SIM_LATENCY_MS", "N", set_latency_ms,
     "fixed delay of successful answers in ms (default 0)"},
    {"latency", "TOLLGATE_SIM_LATENCY", "SPEC", set_latency,
     "N | fixed:N | uniform:MIN:MAX | longtail:P50:P99 (ms)"},
    {"throttle-rate", "TOLLGATE_SIM_THROTTLE_RATE", "F", set_throttle,
     "fraction of requests answered 429 ThrottlingException"},
    {"error-rate", "TOLLGATE_SIM_ERROR_RATES", "TYPE=F", set_error_rate,
     "fraction answered with Bedrock error TYPE (repeatable)"},
    {"quota-rps", "TOLLGATE_SIM_QUOTA_RPS", "N", set_quota,
     "account quota: beyond N requests/s answer ThrottlingException"},
    {"output-tokens", "TOLLGATE_SIM_OUTPUT_TOKENS", "N", set_output_tokens,
     "words per reply before maxTokens caps it (default 40)"},
    {"seed", "TOLLGATE_SIM_SEED", "N", set_seed,
     "seed for faults and latencies (default: time and pid)"},
    {"access-key-id", "TOLLGATE_SIM_ACCESS_KEY_ID", "K", set_akid,
     "require SigV4 signatures by this access key"},
    {"secret-access-key", "TOLLGATE_SIM_SECRET_ACCESS_KEY", "S", set_secret,
     "its secret"},
    {"session-token", "TOLLGATE_SIM_SESSION_TOKEN", "T", set_token,
     "require this X-Amz-Security-Token, signed"},
    {"bearer-token", "TOLLGATE_SIM_BEARER_TOKEN", "T", set_bearer,
     "accept 'Authorization: Bearer T' (Bedrock API key)"},
    {"region", "TOLLGATE_SIM_REGION", "R", set_region,
     "accept only this region in the credential scope (default any)"},
    {"sts-access-key-id", "TOLLGATE_SIM_STS_ACCESS_KEY_ID", "K", set_sts_akid,
     "STS AssumeRole: a long-term key it accepts (and every key it issued)"},
    {"sts-secret-access-key", "TOLLGATE_SIM_STS_SECRET_ACCESS_KEY", "S",
     set_sts_secret, "its secret"},
    {"web-identity-token", "TOLLGATE_SIM_WEB_IDENTITY_TOKEN", "T",
     set_web_token, "AssumeRoleWithWebIdentity: the token it accepts"},
    {"imds-role", "TOLLGATE_SIM_IMDS_ROLE", "NAME", set_imds_role,
     "IMDSv2: the instance's role (default tollgate-node)"},
    {"creds-lifetime", "TOLLGATE_SIM_CREDS_LIFETIME", "S", set_creds_lifetime,
     "lifetime of STS/IMDS credentials in s (default 3600)"},
    {"threads", "TOLLGATE_SIM_THREADS", "N", set_threads,
     "HTTP worker threads (default: CPUs, at least 2)"},
    {"max-connections", "TOLLGATE_SIM_MAX_CONNECTIONS", "N", set_max_conn,
     "concurrent connection limit (default 10000)"},
    {"max-body-bytes", "TOLLGATE_SIM_MAX_BODY_BYTES", "N", set_max_body,
     "request body limit (default 8 MiB)"},
    {"verbose", "TOLLGATE_SIM_VERBOSE", NULL, set_verbose,
     "log one line per error answer to stderr"},
};

#define SIM_N_OPTS (sizeof(sim_opt_defs) / sizeof(sim_opt_defs[0]))

void sim_opts_usage(FILE *fp)
{
        fprintf(fp, "usage: tollgate-bedrock-sim [options]\n\n"
                    "An Amazon Bedrock Runtime simulator (Converse, "
                    "InvokeModel) for tests.\n\n");
        for (size_t i = 0; i < SIM_N_OPTS; i++) {
                const sim_opt_def_t *d = &sim_opt_defs[i];
                char left[48];

                snprintf(left, sizeof(left), "--%s%s%s", d->name,
                         d->arg ? " " : "", d->arg ? d->arg : "");
                fprintf(fp, "  %-26s %s\n  %-26s [env %s]\n", left, d->help, "",
                        d->env);
        }
        fprintf(fp, "\nWithout credentials every request is accepted. Admin "
                    "endpoints: GET /healthz,\nGET /_sim/stats, POST "
                    "/_sim/reset, GET|POST /_sim/config.\n");
}

static void defaults(sim_opts_t *o)
{
        memset(o, 0, sizeof(*o));
        strcpy(o->bind, "127.0.0.1");
        o->port = SIM_DEFAULT_PORT;
        o->max_connections = 10000;
        o->max_body_bytes = SIM_DEFAULT_MAX_BODY;
        sim_knobs_defaults(&o->knobs);
}

static int apply_env(sim_opts_t *o, char *errstr, size_t errstr_size)
{
        for (size_t i = 0; i < SIM_N_OPTS; i++) {
                const char *v = getenv(sim_opt_defs[i].env);

                if (v && *v && sim_opt_defs[i].set(o, v, errstr, errstr_size))
                        return -1;
        }
        return 0;
}

static const sim_opt_def_t *find_opt(const char *name, size_t len)
{
        for (size_t i = 0; i < SIM_N_OPTS; i++)
                if (strlen(sim_opt_defs[i].name) == len &&
                    !strncmp(sim_opt_defs[i].name, name, len))
                        return &sim_opt_defs[i];
        return NULL;
}

/* One "--name[=value]" (value maybe in the next argv); returns how many
 * argv entries it used, or -1. */
static int apply_arg(sim_opts_t *o, int argc, char **argv, int i, char *errstr,
                     size_t errstr_size)
{
        const char *a = argv[i] + 2, *eq = strchr(a, '=');
        const sim_opt_def_t *d = find_opt(a, eq ? (size_t)(eq - a) : strlen(a));
        const char *val = eq ? eq + 1 : NULL;

        if (!d) {
                snprintf(errstr, errstr_size, "unknown option '%.64s'",
                         argv[i]);
                return -1;
        }
        if (d->arg && !val) {
                if (i + 1 >= argc) {
                        snprintf(errstr, errstr_size, "--%s needs %s", d->name,
                                 d->arg);
                        return -1;
                }
                val = argv[i + 1];
        }
        if (d->set(o, val ? val : "1", errstr, errstr_size))
                return -1;
        return (d->arg && !eq) ? 2 : 1;
}

int sim_opts_parse(sim_opts_t *o, int argc, char **argv, char *errstr,
                   size_t errstr_size)
{
        defaults(o);
        if (apply_env(o, errstr, errstr_size))
                return -1;
        for (int i = 1; i < argc;) {
                int used;

                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        sim_opts_usage(stdout);
                        return 1;
                }
                if (strncmp(argv[i], "--", 2)) {
                        snprintf(errstr, errstr_size,
                                 "unexpected argument '%.64s'", argv[i]);
                        return -1;
                }
                if ((used = apply_arg(o, argc, argv, i, errstr, errstr_size)) <
                    0)
                        return -1;
                i += used;
        }
        if (!*o->access_key_id != !*o->secret_access_key) {
                snprintf(errstr, errstr_size,
                         "--access-key-id and --secret-access-key go "
                         "together");
                return -1;
        }
        if (*o->session_token && !*o->access_key_id) {
                snprintf(errstr, errstr_size,
                         "--session-token needs --access-key-id");
                return -1;
        }
        return 0;
}
