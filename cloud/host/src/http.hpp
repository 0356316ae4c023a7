// One HTTP POST with libcurl, shared by the token request and dynamic registration.
// Internal to qmtkit_cloud_host. Never logs; the caller builds messages without secrets.
#pragma once

#include <atomic>
#include <string>
#include <vector>

namespace qmtkit::cloud::detail {

struct HttpAnswer {
    int curl_code = 0;  // CURLcode; 0 = a complete HTTP answer
    std::string error;  // libcurl's error text (names host and cause, never the body)
    long status = 0;    // HTTP status when curl_code == 0
    std::string body;   // at most 64 KiB
};

// POST `body` to `url` with the given header lines ("Name: value"); no redirects, no signals.
// `cancel` (may be null): set from another thread, the request ends within about a second
// (CURLE_ABORTED_BY_CALLBACK), so its owner can join the thread instead of leaving it behind.
HttpAnswer http_post(const std::string& url, const std::vector<std::string>& headers,
                     const std::string& body, long timeout_ms,
                     const std::atomic<bool>* cancel = nullptr);

}  // namespace qmtkit::cloud::detail
