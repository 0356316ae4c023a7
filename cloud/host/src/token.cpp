// The Tencent IoT Suite token request (what the module does for AT+QMTTENAUTH), with libcurl.
//
// Failure → +QMTTENAUTH result code (the note lists the codes but not their causes; this is
// qmtkit's documented mapping, also in docs/cloud-standin.md):
//   0 got password     HTTP 2xx, JSON body
//   {"returnCode":0,"data":{"id":..,"secret":..,"expire":..}} 1 DNS failure
//   CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_URL_MALFORMAT 2 socket init
//   CURLE_COULDNT_CONNECT (refused / unreachable), CURLE_UNSUPPORTED_PROTOCOL,
//                      CURLE_FAILED_INIT, CURLE_SSL_CONNECT_ERROR and other TLS set-up errors,
//                      CURLE_OUT_OF_MEMORY
//   3 HTTP packet      HTTP status not 2xx, returnCode != 0, CURLE_RECV_ERROR, CURLE_GOT_NOTHING,
//                      CURLE_WEIRD_SERVER_REPLY, CURLE_PARTIAL_FILE, any other curl error
//   4 socket send      CURLE_SEND_ERROR
//   5 HTTP parse       2xx body that is not JSON, or lacks returnCode / data.id / data.secret
//   6 timeout          CURLE_OPERATION_TIMEDOUT (connect or whole transfer beyond timeout_ms)
#include "qmtkit/cloud/signing.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include "http.hpp"

namespace qmtkit::cloud {
namespace {

int code_for(CURLcode rc) {
    switch (rc) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_URL_MALFORMAT:
            return 1;
        case CURLE_COULDNT_CONNECT:
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_FAILED_INIT:
        case CURLE_OUT_OF_MEMORY:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
            return 2;
        case CURLE_SEND_ERROR:
            return 4;
        case CURLE_OPERATION_TIMEDOUT:
            return 6;
        default:
            return 3;
    }
}

}  // namespace

TokenOutcome fetch_token(const std::string& url, const TokenRequest& r, long timeout_ms,
                         const std::atomic<bool>* cancel) {
    TokenOutcome out;
    if (r.expire_days == 0 || r.expire_days > 60) {
        out.result_code = 3;
        out.message = "expire must be 1..60 days, got " + std::to_string(r.expire_days);
        return out;
    }
    const auto answer = detail::http_post(url, {"Content-Type: application/x-www-form-urlencoded"},
                                          token_request_body(r), timeout_ms, cancel);
    if (answer.curl_code != 0) {
        out.result_code = code_for(static_cast<CURLcode>(answer.curl_code));
        // libcurl's messages name the host and the cause, never the POST body.
        out.message = "token request failed: " + answer.error;
        return out;
    }
    const long status = answer.status;
    const std::string& response = answer.body;
    if (status < 200 || status > 299) {
        out.result_code = 3;
        out.message = "token server answered HTTP " + std::to_string(status);
        return out;
    }
    nlohmann::json j = nlohmann::json::parse(response, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("returnCode") ||
        !j["returnCode"].is_number_integer()) {
        out.result_code = 5;
        out.message = "token server answer is not the expected JSON";
        return out;
    }
    const auto return_code = j["returnCode"].get<long long>();
    if (return_code != 0) {
        out.result_code = 3;
        out.message = "token server refused: returnCode " + std::to_string(return_code);
        if (j.contains("returnMessage") && j["returnMessage"].is_string())
            out.message += " (" + j["returnMessage"].get<std::string>() + ")";
        return out;
    }
    const auto& d = j.contains("data") ? j["data"] : nlohmann::json();
    if (!d.is_object() || !d.contains("id") || !d["id"].is_string() || !d.contains("secret") ||
        !d["secret"].is_string()) {
        out.result_code = 5;
        out.message = "token server answer lacks data.id / data.secret";
        return out;
    }
    Token t;
    t.username = d["id"].get<std::string>();
    t.password = d["secret"].get<std::string>();
    if (d.contains("expire") && d["expire"].is_number_unsigned())
        t.expire_s = d["expire"].get<std::uint64_t>();
    else if (d.contains("expire") && d["expire"].is_number_integer() &&
             d["expire"].get<long long>() > 0)
        t.expire_s = static_cast<std::uint64_t>(d["expire"].get<long long>());
    out.result_code = 0;
    out.token = std::move(t);
    out.message = "ok";
    return out;
}

}  // namespace qmtkit::cloud
