// Handler instances from the configuration and a module catalog (no files: the catalog's
// entries are made here), and the problems `threadmill -n` and a reload refuse.
#include "runtime/handler_registry.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/temp_dir.h"

namespace threadmill::runtime {
namespace {

ModuleCatalog Catalog(const std::vector<std::string>& names) {
  ModuleCatalog catalog;
  for (const std::string& name : names) {
    auto file = std::make_shared<ModuleFile>();
    file->name = name;
    file->file = name + ".so";
    file->path = "/h/" + file->file;
    catalog.modules.push_back(file);
  }
  return catalog;
}

RuntimeConfig Parse(const std::string& text) {
  testing::TempDir dir;
  std::string path = dir.str() + "/t.conf";
  std::ofstream(path) << "[store]\npath = \"" << dir.str() << "/db\"\n" << text;
  return ParseRuntimeConfig(*config::Load(path));
}

std::string Instances(const HandlerRegistry& registry) {
  std::string out;
  for (const auto& [name, instance] : registry.instances) {
    out += (out.empty() ? "" : " ") + name + "=" + instance.module->name;
  }
  return out;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

TEST(HandlerRegistry, InstancesAndProblems) {
  const std::string route = "[[routes]]\nrecipient = \"a@example.com\"\nhandler = \"%\"\n";
  auto routed = [&](const std::string& handler) {
    std::string r = route;
    r.replace(r.find('%'), 1, handler);
    return r;
  };
  struct Case {
    std::string config;
    std::vector<std::string> modules;
    std::string want_instances;
    std::string want_problem;  // substring of the problems ("" = none)
  } cases[] = {
      // Every loaded module is a handler under its own name (today's meaning).
      {"", {"exec", "testgood"}, "exec=exec testgood=testgood", ""},
      {"[handler.testgood]\ngreeting = \"x\"\n", {"testgood"}, "testgood=testgood", ""},
      // Named instances of one module, by table name and by file name; the module is not
      // also an instance of its own when only named instances use it.
      {"[handler.support]\nmodule = \"exec\"\n[handler.sales]\nmodule = \"exec.so\"\n",
       {"exec"},
       "sales=exec support=exec",
       ""},
      // ... unless a route names it.
      {"[handler.support]\nmodule = \"exec\"\n" + routed("exec"),
       {"exec"},
       "exec=exec support=exec",
       ""},
      {"[handler.support]\nmodule = \"exec\"\n",
       {},
       "",
       "handler.support: module \"exec\" is not loaded"},
      {"[handler.testgood]\nmodule = \"exec\"\n",
       {"exec", "testgood"},
       "testgood=exec",
       "module /h/testgood.so is also named \"testgood\""},
      {routed("absent"),
       {"exec"},
       "exec=exec",
       "routes[0] (a@example.com): handler \"absent\" is not loaded"},
      {routed("support") + "[handler.support]\nmodule = \"exec\"\n", {"exec"}, "support=exec", ""},
      // [handler.X] without a module of that name: no instance; a route to it is a problem.
      {"[handler.gone]\nx = 1\n" + routed("gone"), {}, "", "handler \"gone\" is not loaded"},
  };
  for (const auto& c : cases) {
    RuntimeConfig config = Parse(c.config);
    HandlerRegistry registry = BuildRegistry(config, Catalog(c.modules));
    EXPECT_EQ(Instances(registry), c.want_instances) << c.config;
    std::string problems = Join(HandlerProblems(config, registry));
    if (c.want_problem.empty()) {
      EXPECT_EQ(problems, "") << c.config;
    } else {
      EXPECT_NE(problems.find(c.want_problem), std::string::npos) << c.config << problems;
    }
  }
}

TEST(HandlerRegistry, PerHandlerPoolSettingsDefaultToRuntime) {
  RuntimeConfig config = Parse(
      "[runtime]\nworkers = 3\njob_timeout_seconds = 20\nrecycle_after_jobs = 7\n"
      "[handler.slow]\nworkers = 1\njob_timeout_seconds = 600\nrecycle_after_jobs = 2\n"
      "[handler.plain]\nx = 1\n");
  struct Case {
    std::string name;
    int64_t workers, timeout, recycle;
  } cases[] = {{"slow", 1, 600, 2}, {"plain", 3, 20, 7}, {"unconfigured", 3, 20, 7}};
  for (const auto& c : cases) {
    EXPECT_EQ(config.workers_of(c.name), c.workers) << c.name;
    EXPECT_EQ(config.job_timeout_of(c.name), c.timeout) << c.name;
    EXPECT_EQ(config.recycle_after_of(c.name), c.recycle) << c.name;
  }
  for (const char* bad :
       {"[handler.x]\nworkers = 0\n", "[handler.x]\nmodule = \"\"\n",
        "[handler.x]\nmodule = \"/etc/x.so\"\n", "[handler.x]\njob_timeout_seconds = 0\n"}) {
    EXPECT_THROW(Parse(bad), config::ConfigError) << bad;
  }
}

}  // namespace
}  // namespace threadmill::runtime
