// http_post.cc - see http_post.h.
#include "http_post.h"

#include <memory>

#include "sigpipe_block.h"

namespace threadmill::handlers::common {
namespace {

struct Sink {
  std::string* body;
  size_t cap;
  bool* too_large;
};

size_t Write(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t n = size * count;
  if (sink->body->size() + n > sink->cap) {
    *sink->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  sink->body->append(data, n);
  return n;
}

struct SlistFree {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

}  // namespace

HttpClient::HttpClient() : curl_(curl_easy_init()) {}

HttpClient::~HttpClient() {
  if (curl_) curl_easy_cleanup(curl_);
}

HttpResponse HttpClient::Post(const std::string& url, const std::vector<std::string>& headers,
                              const std::string& body, long timeout_ms, long connect_timeout_ms,
                              size_t max_response_bytes) {
  HttpResponse r;
  std::unique_ptr<curl_slist, SlistFree> list;
  for (const std::string& h : headers) {
    curl_slist* next = curl_slist_append(list.get(), h.c_str());
    if (!next) {
      r.curl = CURLE_OUT_OF_MEMORY;
      r.curl_error = "out of memory";
      return r;
    }
    (void)list.release();
    list.reset(next);
  }
  char error[CURL_ERROR_SIZE] = {0};
  Sink sink{&r.body, max_response_bytes, &r.too_large};
  curl_easy_reset(curl_);
  curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl_, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl_, CURLOPT_POST, 1L);
  curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
  curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, Write);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error);
  {
    SigpipeBlock no_sigpipe;
    r.curl = curl_easy_perform(curl_);
  }
  if (r.curl != CURLE_OK) r.curl_error = error[0] ? error : curl_easy_strerror(r.curl);
  curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
  const char* type = nullptr;
  if (curl_easy_getinfo(curl_, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type) {
    r.content_type = type;
  }
  // The handle outlives this call: do not leave it pointing at our stack and strings.
  curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
  return r;
}

bool ValidHttpUrl(const std::string& key, const std::string& url, std::string* error) {
  CURLU* u = curl_url();
  if (!u) {
    *error = "out of memory";
    return false;
  }
  char* scheme = nullptr;
  bool ok = curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK && scheme &&
            (std::string(scheme) == "http" || std::string(scheme) == "https");
  curl_free(scheme);
  curl_url_cleanup(u);
  if (!ok) *error = key + ": expected an http:// or https:// URL, got \"" + url + "\"";
  return ok;
}

}  // namespace threadmill::handlers::common
