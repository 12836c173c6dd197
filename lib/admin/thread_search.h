// thread_search.h - finds threads by Message-ID, participant, subject or thread id (console).
//
// DESCRIPTION
//   A query that is a Message-ID known to the store (with or without <>) finds its thread
//   directly. Otherwise every thread record is read (ThreadStore::ListThreads, a page at a
//   time, from the configured backend: the local LMDB, or every host's threads in PostgreSQL)
//   and kept when the query occurs, ASCII case-insensitively, in its id, subject,
//   participants or recent Message-IDs. An empty query lists the threads most recently
//   updated. Results are newest first.
//
// LIMITS
//   The scan reads every thread (no full-text index): fine for the stores threadmill keeps
//   (retention_days), slow for millions of threads. At most `limit` results.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/environment.h"
#include "store/records.h"

namespace threadmill::admin {

Result<std::vector<store::ThreadRecord>> SearchThreads(
    const std::shared_ptr<store::Environment>& env, std::string_view query, size_t limit = 100);

}  // namespace threadmill::admin
