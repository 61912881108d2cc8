/*
 * Amazon Bedrock's control plane (service "bedrock", restJson1), the part
 * tollgate-ledger profiles sync needs: application inference profiles.
 *
 *   POST   /inference-profiles                       CreateInferenceProfile
 *   GET    /inference-profiles?maxResults&nextToken&type  ListInferenceProfiles
 *   GET    /inference-profiles/{id or ARN}           GetInferenceProfile
 *   DELETE /inference-profiles/{id or ARN}           DeleteInferenceProfile
 *   POST   /listTagsForResource                      ListTagsForResource
 *
 * Paths, fields, status codes and error types are botocore's bedrock
 * service model (data/bedrock/2023-04-20/service-2.json); tests/sim/
 * test_boto3_control.py proves them with boto3's bedrock client. Profiles
 * live in memory, account 123456789012, region --region or us-east-1.
 * System-defined profiles ("us.", "eu.", "apac.", "global." + a model id)
 * exist for any model id, as Get answers them; List shows the application
 * ones (type=APPLICATION) and, without a type, those alone too (the
 * simulator has no fixed list of models).
 *
 * ListInferenceProfiles pages at 2 by default (maxResults 1-1000 honoured)
 * so that every client test paginates. Admin (no signature, not counted
 * in /_sim/stats): GET /_sim/control (calls per operation, profiles, page
 * size, fault rules), POST /_sim/control/reset (forget all),
 * POST /_sim/control/config {"pageSize": N, "faults": [{"operation":
 * "CreateInferenceProfile", "error": "ThrottlingException", "match":
 * "substring of the profile name or identifier", "times": N (0 or absent:
 * every time)}]} (faults replaces the whole list).
 *
 * Thread-safety: one sim_control_t per simulator, every call takes its
 * mutex (MHD may run handlers on a thread pool).
 */
#ifndef SIM_CONTROL_H
#define SIM_CONTROL_H

struct sim_ctx;
struct sim_req;

typedef struct sim_control sim_control_t;

sim_control_t *sim_control_new(void);
void sim_control_destroy(sim_control_t *c);

/* 1 when the request is a control-plane one (reply filled), else 0. */
int sim_control_handle(struct sim_ctx *ctx, struct sim_req *req);

/* The /_sim/control admin endpoints. */
void sim_control_admin(struct sim_ctx *ctx, struct sim_req *req);

#endif
