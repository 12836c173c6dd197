#include "milter/background.h"

#include <pthread.h>
#include <signal.h>

#include <ctime>

#include "log/logger.h"
#include "milter/callbacks.h"
#include "store/shared_sweep.h"

namespace threadmill::milter {
namespace {

// USR2 only wakes the reload thread for shutdown.
sigset_t ReloadSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  return set;
}

}  // namespace

void BlockSignals() {
  // TERM/HUP/INT too: libmilter's signal thread sigwaits for them once smfi_main runs; an
  // unblocked thread of ours would otherwise take them with the default action (exit at once).
  sigset_t set = ReloadSignals();
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a vanished MTA connection is an error return, not a kill
}

Background::Background(Service* service, std::function<void(int)> forward)
    : service_(service),
      forward_(std::move(forward)),
      reload_([this] { ReloadLoop(); }),
      sweep_([this] { SweepLoop(); }),
      sync_([this] { SyncLoop(); }),
      idle_([this] { IdleLoop(); }) {}

Background::~Background() { Stop(); }

void Background::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  pthread_kill(reload_.native_handle(), SIGUSR2);
  reload_.join();
  sweep_.join();
  sync_.join();
  idle_.join();
  // The last commits reach the disk on a clean stop.
  if (Status synced = service_->environment()->Sync(); !synced.ok()) {
    log::Get().error("store sync at stop failed: {}", synced.error().message);
  }
}

void Background::ReloadLoop() {
  sigset_t set = ReloadSignals();
  for (;;) {
    int signal_number = 0;
    if (sigwait(&set, &signal_number) != 0) continue;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    if (signal_number == SIGUSR1) {
      log::Get().info("reload requested (SIGUSR1)");
      service_->Reload();
      if (forward_) forward_(SIGUSR1);  // handlers and routes reload too
    }
  }
}

void Background::SyncLoop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    auto config = service_->config();
    if (config->store.sync_each_commit) {
      wake_.wait(lock, [this] { return stopping_; });
      return;
    }
    auto interval = std::chrono::milliseconds(config->store.sync_interval_ms);
    if (wake_.wait_for(lock, interval, [this] { return stopping_; })) return;
    lock.unlock();
    if (Status synced = service_->environment()->Sync(); !synced.ok()) {
      log::Get().error("store sync failed: {}", synced.error().message);
    }
    lock.lock();
  }
}

void Background::IdleLoop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) return;
    lock.unlock();
    CloseIdleConnections();
    lock.lock();
  }
}

void Background::SweepLoop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    auto config = service_->config();
    auto interval = std::chrono::seconds(config->store.sweep_interval_seconds);
    if (wake_.wait_for(lock, interval, [this] { return stopping_; })) return;
    lock.unlock();
    const auto now = static_cast<int64_t>(std::time(nullptr));
    // Shared threads (PostgreSQL): one host per interval sweeps them (store/shared_sweep.h).
    auto mine = store::TakeSharedSweep(*service_->environment(), "threads", now,
                                       config->store.sweep_interval_seconds);
    if (!mine.ok() || !*mine) {
      if (!mine.ok()) log::Get().error("retention sweep skipped: {}", mine.error().message);
      lock.lock();
      continue;
    }
    int64_t cutoff = now - config->store.retention_days * 86400;
    auto swept = service_->store()->Sweep(cutoff);
    if (swept.ok()) {
      if (swept->messages || swept->threads) {
        log::Get().info("retention: removed {} message mappings and {} threads older than {} days",
                        swept->messages, swept->threads, config->store.retention_days);
      }
    } else {
      log::Get().error("retention sweep failed: {}", swept.error().message);
    }
    lock.lock();
  }
}

}  // namespace threadmill::milter
