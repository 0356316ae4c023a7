#include "http.hpp"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace qmtkit::cloud::detail {
namespace {

std::size_t collect(char* data, std::size_t size, std::size_t nmemb, void* user) {
    auto* out = static_cast<std::string*>(user);
    constexpr std::size_t kMaxBody = 64 * 1024;  // token and registration answers are tiny
    if (out->size() + size * nmemb > kMaxBody) return 0;
    out->append(data, size * nmemb);
    return size * nmemb;
}

int cancelled(void* flag, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<const std::atomic<bool>*>(flag)->load() ? 1 : 0;
}

}  // namespace

HttpAnswer http_post(const std::string& url, const std::vector<std::string>& headers,
                     const std::string& body, long timeout_ms, const std::atomic<bool>* cancel) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });

    HttpAnswer out;
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
    if (!curl) {
        out.curl_code = CURLE_FAILED_INIT;
        out.error = "curl_easy_init failed";
        return out;
    }
    curl_slist* list = nullptr;
    for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> hold(list, &curl_slist_free_all);
    char errbuf[CURL_ERROR_SIZE] = {0};
    CURL* h = curl.get();
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out.body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "qmtkit/0.1");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (cancel != nullptr) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &cancelled);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(cancel));
    }

    const CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        out.curl_code = static_cast<int>(rc);
        out.error = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
        out.body.clear();
        return out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out.status);
    return out;
}

}  // namespace qmtkit::cloud::detail
