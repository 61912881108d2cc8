/*
 * tollgate-mock-cluster: librdkafka's mock Kafka cluster in a process of its
 * own, so a worker (another process) can run against it over loopback while
 * a test injects broker errors on stdin.
 *
 *   tollgate-mock-cluster [--brokers N] [--partitions N] [TOPIC...]
 *
 * Prints "bootstrap HOST:PORT[,...]" once the cluster is up and the topics
 * exist, then reads one command per line and answers "ok" or "error: ...":
 *
 *   topic NAME PARTITIONS        create a topic
 *   err APIKEY CODE[,CODE...]    the next requests of that ApiKey (cluster
 *                                wide) fail with these codes, in order
 *   clear APIKEY                 drop the errors not yet returned
 *   down ID | up ID              take a broker down or bring it back
 *   rtt ID MS                    delay every response of a broker
 *   slow ID APIKEY MS COUNT      delay the broker's next COUNT responses
 *                                of that ApiKey by MS (no error)
 *   quit                         (or end of input) destroy the cluster
 *
 * ApiKeys worth knowing: Produce 0, OffsetCommit 8, InitProducerId 22,
 * AddPartitionsToTxn 24, AddOffsetsToTxn 25, EndTxn 26, TxnOffsetCommit 28.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CODES 64

/* One answer line: "ok", "ok DETAIL" or "error: DETAIL". */
static void answer(const char *head, const char *detail)
{
        printf("%s%s\n", head, detail);
        fflush(stdout);
}

static void answer_err(rd_kafka_resp_err_t err)
{
        if (err)
                answer("error: ", rd_kafka_err2str(err));
        else
                answer("ok", "");
}

static int parse_codes(char *list, rd_kafka_resp_err_t *codes)
{
        int n = 0;

        for (char *save = NULL, *t = strtok_r(list, ",", &save);
             t && n < MAX_CODES; t = strtok_r(NULL, ",", &save))
                codes[n++] = (rd_kafka_resp_err_t)atoi(t);
        return n;
}

static void cmd_err(rd_kafka_mock_cluster_t *mc, char *args)
{
        rd_kafka_resp_err_t codes[MAX_CODES];
        char list[512];
        int api, n;

        if (sscanf(args, "%d %511s", &api, list) != 2 ||
            (n = parse_codes(list, codes)) == 0) {
                answer("error: ", "err APIKEY CODE[,CODE...]");
                return;
        }
        rd_kafka_mock_push_request_errors_array(mc, (int16_t)api, (size_t)n,
                                                codes);
        answer("ok", "");
}

static void cmd_topic(rd_kafka_mock_cluster_t *mc, char *args)
{
        char name[256];
        int parts;
        rd_kafka_resp_err_t err;

        if (sscanf(args, "%255s %d", name, &parts) != 2) {
                answer("error: ", "topic NAME PARTITIONS");
                return;
        }
        err = rd_kafka_mock_topic_create(mc, name, parts, 1);
        answer_err(err);
}

static void cmd_broker(rd_kafka_mock_cluster_t *mc, const char *verb,
                       char *args)
{
        int id, ms = 0;
        rd_kafka_resp_err_t err;

        if (sscanf(args, "%d %d", &id, &ms) < 1) {
                answer("error: ID needed after ", verb);
                return;
        }
        if (!strcmp(verb, "down"))
                err = rd_kafka_mock_broker_set_down(mc, id);
        else if (!strcmp(verb, "up"))
                err = rd_kafka_mock_broker_set_up(mc, id);
        else
                err = rd_kafka_mock_broker_set_rtt(mc, id, ms);
        answer_err(err);
}

static void cmd_slow(rd_kafka_mock_cluster_t *mc, char *args)
{
        int id, api, ms, count;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

        if (sscanf(args, "%d %d %d %d", &id, &api, &ms, &count) != 4 ||
            count < 1 || count > 10000) {
                answer("error: ", "slow ID APIKEY MS COUNT");
                return;
        }
        for (int i = 0; i < count && !err; i++)
                err = rd_kafka_mock_broker_push_request_error_rtts(
                    mc, id, (int16_t)api, 1, RD_KAFKA_RESP_ERR_NO_ERROR, ms);
        answer_err(err);
}

static void clear(rd_kafka_mock_cluster_t *mc, const char *args)
{
        rd_kafka_mock_clear_request_errors(mc, (int16_t)atoi(args));
        answer("ok", "");
}

/* One command line; returns 0 to go on, 1 to quit. */
static int command(rd_kafka_mock_cluster_t *mc, char *line)
{
        char verb[16] = "";
        int off = 0;

        line[strcspn(line, "\r\n")] = '\0';
        if (sscanf(line, "%15s %n", verb, &off) < 1)
                return 0;
        if (!strcmp(verb, "quit"))
                return 1;
        if (!strcmp(verb, "err"))
                cmd_err(mc, line + off);
        else if (!strcmp(verb, "slow"))
                cmd_slow(mc, line + off);
        else if (!strcmp(verb, "clear"))
                clear(mc, line + off);
        else if (!strcmp(verb, "topic"))
                cmd_topic(mc, line + off);
        else if (!strcmp(verb, "down") || !strcmp(verb, "up") ||
                 !strcmp(verb, "rtt"))
                cmd_broker(mc, verb, line + off);
        else
                answer("error: unknown command ", verb);
        return 0;
}

static rd_kafka_t *handle_new(void)
{
        char errstr[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;

        /* Only a host for the cluster's thread; it connects nowhere. */
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "tollgate-mock-cluster: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
        }
        return rk;
}

int main(int argc, char **argv)
{
        int brokers = 1, parts = 4, i = 1;
        char line[1024];
        rd_kafka_t *rk;
        rd_kafka_mock_cluster_t *mc;

        for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
                if (!strcmp(argv[i], "--brokers"))
                        brokers = atoi(argv[i + 1]);
                else if (!strcmp(argv[i], "--partitions"))
                        parts = atoi(argv[i + 1]);
                else
                        break;
        }
        if (i < argc && !strncmp(argv[i], "--", 2)) {
                fprintf(stderr, "usage: tollgate-mock-cluster [--brokers N] "
                                "[--partitions N] [TOPIC...]\n");
                return 2;
        }
        if (!(rk = handle_new()))
                return 1;
        if (!(mc = rd_kafka_mock_cluster_new(rk, brokers > 0 ? brokers : 1))) {
                fprintf(stderr, "tollgate-mock-cluster: cannot start\n");
                return 1;
        }
        for (; i < argc; i++)
                rd_kafka_mock_topic_create(mc, argv[i], parts, 1);
        answer("bootstrap ", rd_kafka_mock_cluster_bootstraps(mc));
        while (fgets(line, sizeof(line), stdin))
                if (command(mc, line))
                        break;
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return 0;
}
