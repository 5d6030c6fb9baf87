// A Cognito trigger handler for tessera's webhook target: Node's own http module and the
// `standardwebhooks` package, nothing else.
//
//     npm install
//     TESSERA_WEBHOOK_SECRET=whsec_... PORT=8001 node handler.mjs
//
// and point a `[[triggers]]` table at http://127.0.0.1:8001/cognito with the same secret.
// tessera POSTs the Cognito event, signed as Standard Webhooks says; this handler answers
// 200 with the event (its `response` filled in), or fails the trigger with a non-2xx
// status and {"errorMessage": ...}, which the Cognito API call reports as
// UserLambdaValidationException.

import http from "node:http";
import { Webhook, WebhookVerificationError } from "standardwebhooks";

const webhook = new Webhook(process.env.TESSERA_WEBHOOK_SECRET);
const BLOCKED_DOMAIN = (process.env.BLOCKED_DOMAIN ?? "blocked.example").toLowerCase();
const PORT = Number(process.env.PORT ?? 8001);
const HOST = process.env.HOST ?? "127.0.0.1";
const MAX_BODY = 1 << 20;
const CLAIMS = { tenant: "acme" };

/** Fails the trigger, like `throw new Error(message)` in a Lambda function. */
class TriggerError extends Error {}

function handle(event) {
  const source = event.triggerSource;
  const response = (event.response ??= {});
  if (source === "PreSignUp_SignUp") {
    const email = event.request.userAttributes.email;
    if (email && email.split("@").pop().toLowerCase() === BLOCKED_DOMAIN) {
      throw new TriggerError("Registration from this domain is not allowed.");
    }
    response.autoConfirmUser = true;
    if (email) response.autoVerifyEmail = true;
  } else if (source.startsWith("TokenGeneration_")) {
    if (event.version !== "1") {
      // PreTokenGeneration V2/V3: both tokens.
      response.claimsAndScopeOverrideDetails = {
        idTokenGeneration: { claimsToAddOrOverride: { ...CLAIMS } },
        accessTokenGeneration: { claimsToAddOrOverride: { ...CLAIMS } },
      };
    } else {
      // V1: the ID token only.
      response.claimsOverrideDetails = { claimsToAddOrOverride: { ...CLAIMS } };
    }
  }
  // Every other trigger: the event unchanged.
  return event;
}

function reply(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) throw new Error("body too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const server = http.createServer(async (req, res) => {
  if (req.method !== "POST" || req.url !== "/cognito") return reply(res, 404, { message: "not found" });
  try {
    const body = await readBody(req); // the raw bytes: the signature covers them exactly
    webhook.verify(body, req.headers, { jsonParse: false }); // throws WebhookVerificationError
    reply(res, 200, handle(JSON.parse(body.toString("utf8"))));
  } catch (error) {
    if (error instanceof WebhookVerificationError) return reply(res, 401, { message: "invalid signature" });
    if (error instanceof TriggerError) return reply(res, 400, { errorMessage: error.message });
    // Anything else is this handler's own trouble: a 500 without errorMessage, which
    // tessera reports as UnexpectedLambdaException.
    console.error(error);
    reply(res, 500, { message: "internal error" });
  }
});

server.listen(PORT, HOST, () => console.log(`trigger handler listening on http://${HOST}:${PORT}/cognito`));
