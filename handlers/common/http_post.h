// http_post.h - one HTTP(S) POST with libcurl: fixed headers, time limits, a capped response.
//
// DESCRIPTION
//   HttpClient owns a curl easy handle (kept between posts so connections are reused) and
//   posts a body to one URL. Only http and https are allowed, redirects are not followed, and
//   curl never raises signals (CURLOPT_NOSIGNAL; SIGPIPE is blocked in the calling thread
//   during the transfer). A response body past max_response_bytes aborts the transfer.
//   Shared by the handlers that speak HTTP (webhook, llm); CurlGlobal pairs libcurl's global
//   init and cleanup with a handler's life.
//
// LIMITS
//   Not thread-safe: one HttpClient per thread. TLS verification uses the system CA store.
#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <string>
#include <vector>

namespace threadmill::handlers::common {

struct HttpResponse {
  CURLcode curl = CURLE_OK;
  std::string curl_error;  // curl's message when curl != CURLE_OK
  long status = 0;         // HTTP status, 0 when none was received
  std::string content_type;
  std::string body;
  bool too_large = false;  // the body passed max_response_bytes
};

class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  bool ok() const { return curl_ != nullptr; }

  HttpResponse Post(const std::string& url, const std::vector<std::string>& headers,
                    const std::string& body, long timeout_ms, long connect_timeout_ms,
                    size_t max_response_bytes);

 private:
  CURL* curl_ = nullptr;
};

// True when url parses and its scheme is http or https; else *error says why, naming the
// configuration key the url came from ("KEY: expected an http:// or https:// URL, ...").
bool ValidHttpUrl(const std::string& key, const std::string& url, std::string* error);

// curl_global_init for the owner's life (libcurl counts calls; cleanup pairs with init).
// Declare it before any HttpClient so it is initialised before and cleaned up after them.
class CurlGlobal {
 public:
  CurlGlobal() : ok_(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) {}
  ~CurlGlobal() {
    if (ok_) curl_global_cleanup();
  }
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
  bool ok() const { return ok_; }

 private:
  bool ok_;
};

}  // namespace threadmill::handlers::common
