// The loader against real fixture modules (tests/handlers/fixtures), copied into temporary
// handler directories. Runs without root: the test's own uid stands in for root's as the
// trusted owner (LoaderOptions::owner_uid); the cases that need a file of another user skip
// without root. The marker fixture's constructor writes a file: a refused module must never
// have run it, so every check happens on the open descriptor before dlopen().
#include "runtime/loader.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "lib/runtime/runtime_test_util.h"
#include "support/temp_dir.h"

namespace threadmill::runtime {
namespace {

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(chmod(dir_.str().c_str(), 0755), 0);
    options_.owner_uid = geteuid();
    marker_ = dir_.str() + "/constructor-ran";
    setenv("THREADMILL_TEST_MARKER", marker_.c_str(), 1);
  }
  void TearDown() override { unsetenv("THREADMILL_TEST_MARKER"); }
  std::string Refusal(const std::string& path) {
    auto got = LoadModule(path, options_);
    return got.ok() ? "" : got.error().message;
  }
  std::string Mkdir(const std::string& rel, mode_t mode) {
    std::string path = dir_.str() + "/" + rel;
    EXPECT_EQ(mkdir(path.c_str(), mode), 0) << path;
    EXPECT_EQ(chmod(path.c_str(), mode), 0) << path;
    return path;
  }
  bool ConstructorRan() const { return std::filesystem::exists(marker_); }

  testing::TempDir dir_;
  LoaderOptions options_;
  std::string marker_;
};

TEST_F(LoaderTest, LoadsGoodModule) {
  auto m = LoadModule(testing::InstallFixture(dir_.str(), "good"), options_);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->name(), "testgood");
  EXPECT_EQ((*m)->path(), dir_.str() + "/good.so");
  EXPECT_NE((*m)->on_heartbeat(), nullptr);
  EXPECT_NE((*m)->fini(), nullptr);
}

TEST_F(LoaderTest, RefusesEachBrokenFixture) {
  EXPECT_NE(Refusal(testing::InstallFixture(dir_.str(), "badmajor"))
                .find("built for ABI 2.0, threadmill speaks ABI major 1"),
            std::string::npos);
  EXPECT_NE(Refusal(testing::InstallFixture(dir_.str(), "nosym"))
                .find("missing entry symbol threadmill_handler_v1"),
            std::string::npos);
  // Another major's entry symbol: the module says which major it was built for.
  EXPECT_EQ(Refusal(testing::InstallFixture(dir_.str(), "v2entry")),
            "built for ABI 2, this threadmill speaks 1");
  std::string writable = testing::InstallFixture(dir_.str(), "good", "writable.so");
  chmod(writable.c_str(), 0664);
  EXPECT_NE(Refusal(writable).find("writable by group or others (mode 0664)"), std::string::npos);
  // A link into a directory others may change is refused; so are dangling links.
  std::string exposed = testing::InstallFixture(Mkdir("open", 0777), "good");
  std::string link = dir_.str() + "/link.so";
  ASSERT_EQ(symlink(exposed.c_str(), link.c_str()), 0);
  EXPECT_NE(Refusal(link).find("directory " + dir_.str() + "/open (owner uid " +
                               std::to_string(geteuid()) +
                               ", mode 0777) could be changed by "
                               "others"),
            std::string::npos)
      << Refusal(link);
  std::string dangling = dir_.str() + "/dangling.so";
  ASSERT_EQ(symlink((dir_.str() + "/nowhere.so").c_str(), dangling.c_str()), 0);
  EXPECT_NE(Refusal(dangling).find("cannot stat " + dir_.str() + "/nowhere.so"), std::string::npos)
      << Refusal(dangling);
  std::string junk = dir_.str() + "/junk.so";
  std::ofstream(junk) << "not an ELF file";
  chmod(junk.c_str(), 0644);
  EXPECT_NE(Refusal(junk).find("dlopen failed"), std::string::npos);
  std::string fifo = dir_.str() + "/fifo.so";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  EXPECT_NE(Refusal(fifo).find("not a regular file"), std::string::npos);  // and no hang
  EXPECT_NE(Refusal(Mkdir("dir.so", 0755)).find("not a regular file"), std::string::npos);
}

TEST_F(LoaderTest, RefusesWhatOthersOwn) {
  if (geteuid() != 0) GTEST_SKIP() << "files of another user need root";
  std::string foreign = testing::InstallFixture(dir_.str(), "good", "foreign.so");
  ASSERT_EQ(chown(foreign.c_str(), 65534, 65534), 0);
  EXPECT_NE(Refusal(foreign).find("not owned by root (owner uid 65534)"), std::string::npos);
  std::string foreign_link = dir_.str() + "/foreign-link.so";
  ASSERT_EQ(symlink(testing::FixturePath("good").c_str(), foreign_link.c_str()), 0);
  ASSERT_EQ(lchown(foreign_link.c_str(), 65534, 65534), 0);
  EXPECT_NE(Refusal(foreign_link).find("symbolic link " + foreign_link + " is not owned by root"),
            std::string::npos)
      << Refusal(foreign_link);
  // A handlers directory of the service user: it could swap modules at will.
  std::string theirs = Mkdir("theirs", 0755);
  testing::InstallFixture(theirs, "marker");
  ASSERT_EQ(chown(theirs.c_str(), 65534, 65534), 0);
  EXPECT_TRUE(LoadModules(theirs, options_).modules.empty());
  EXPECT_NE(Refusal(theirs + "/marker.so").find("could be changed by others"), std::string::npos);
  EXPECT_FALSE(ConstructorRan());
}

// How an administrator enables a packaged handler: a root-owned link to the packaged file.
TEST_F(LoaderTest, FollowsSafeSymbolicLinks) {
  std::string packaged = testing::InstallFixture(Mkdir("packaged", 0755), "good");
  std::string link = dir_.str() + "/enabled.so";
  ASSERT_EQ(symlink(packaged.c_str(), link.c_str()), 0);
  std::string relative = dir_.str() + "/relative.so";
  ASSERT_EQ(symlink("packaged/good.so", relative.c_str()), 0);
  for (const std::string& path : {link, relative}) {
    auto m = LoadModule(path, options_);
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_EQ((*m)->name(), "testgood");
    EXPECT_EQ((*m)->path(), path);
  }
}

TEST_F(LoaderTest, AcceptsNewerMinor) {
  auto m = LoadModule(testing::InstallFixture(dir_.str(), "newminor"), options_);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->minor(), 7u);
  EXPECT_EQ((*m)->on_heartbeat(), nullptr);
}

TEST_F(LoaderTest, DirectoryScanSkipsRefusedAndDuplicates) {
  testing::InstallFixture(dir_.str(), "good", "a_good.so");
  testing::InstallFixture(dir_.str(), "good", "b_duplicate.so");
  testing::InstallFixture(dir_.str(), "badmajor");
  testing::InstallFixture(dir_.str(), "nosym");
  testing::InstallFixture(dir_.str(), "crash");
  testing::InstallFixture(dir_.str(), "cpp");
  std::ofstream(dir_.str() + "/README") << "not a module";
  ModuleSet set = LoadModules(dir_.str(), options_);
  EXPECT_EQ(set.Names(), (std::vector<std::string>{"testgood", "testcpp", "crasher"}));
  EXPECT_EQ(set.Find("testgood")->path(), dir_.str() + "/a_good.so");
}

// The handlers directory: root's and not writable by others (sticky or not), and so is every
// directory above it. A refused directory loads nothing and runs no constructor.
TEST_F(LoaderTest, UnsafeHandlersDirectoryRefusesAll) {
  struct Case {
    std::string name;
    std::string handlers;  // relative to the test directory
    mode_t mode;           // of the directory made for the case
  } cases[] = {
      {"world-writable", "world", 0777},
      {"group-writable", "group", 0775},
      {"sticky", "sticky", 01777},
      {"parent group-writable", "parent/handlers", 0775},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string top = Mkdir(c.handlers.substr(0, c.handlers.find('/')), c.mode);
    std::string handlers = top;
    if (c.handlers.find('/') != std::string::npos) handlers = Mkdir(c.handlers, 0755);
    testing::InstallFixture(handlers, "marker");
    testing::InstallFixture(handlers, "good");
    EXPECT_TRUE(LoadModules(handlers, options_).modules.empty());
    EXPECT_FALSE(ConstructorRan());
  }
  // The same modules in a safe directory load (the test can fail).
  std::string safe = Mkdir("safe", 0755);
  testing::InstallFixture(safe, "marker");
  EXPECT_EQ(LoadModules(safe, options_).Names(), std::vector<std::string>{"marker"});
  EXPECT_TRUE(ConstructorRan());
}

TEST_F(LoaderTest, RefusedModulesNeverRunTheirConstructor) {
  std::string open_dir = Mkdir("open", 0777);
  std::string group_dir = Mkdir("group", 0775);
  std::string in_open = testing::InstallFixture(open_dir, "marker");
  std::string in_group = testing::InstallFixture(group_dir, "marker");
  std::string writable = testing::InstallFixture(dir_.str(), "marker", "writable.so");
  ASSERT_EQ(chmod(writable.c_str(), 0666), 0);
  std::string link_out = dir_.str() + "/link-out.so";  // safe link, exposed target
  ASSERT_EQ(symlink(in_open.c_str(), link_out.c_str()), 0);
  std::string safe = testing::InstallFixture(Mkdir("safe", 0755), "marker");
  std::string link_in_open = open_dir + "/link-in.so";  // exposed link, safe target
  ASSERT_EQ(symlink(safe.c_str(), link_in_open.c_str()), 0);
  struct Case {
    std::string path, why;
  } cases[] = {
      {in_open, "mode 0777) could be changed by others"},
      {in_group, "mode 0775) could be changed by others"},
      {writable, "writable by group or others (mode 0666)"},
      {link_out, "mode 0777) could be changed by others"},
      {link_in_open, "mode 0777) could be changed by others"},
  };
  for (const auto& c : cases) {
    EXPECT_NE(Refusal(c.path).find(c.why), std::string::npos) << c.path << ": " << Refusal(c.path);
    EXPECT_FALSE(ConstructorRan()) << c.path;
  }
  auto loaded = LoadModule(safe, options_);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_TRUE(ConstructorRan());
}

// Whatever happens to the path after the checks, the checked file is what gets loaded.
TEST_F(LoaderTest, SwapAfterTheCheckLoadsWhatWasChecked) {
  std::string staged = testing::InstallFixture(dir_.str(), "marker", "staged.so.new");
  std::string path = testing::InstallFixture(dir_.str(), "good", "module.so");
  options_.before_load = [&](const std::string& p) {
    ASSERT_EQ(rename(staged.c_str(), p.c_str()), 0);
  };
  auto m = LoadModule(path, options_);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->name(), "testgood");
  EXPECT_FALSE(ConstructorRan());

  // The same with a link re-pointed after the check.
  std::string good = testing::InstallFixture(Mkdir("v1", 0755), "good");
  std::string marker = testing::InstallFixture(Mkdir("v2", 0755), "marker");
  std::string link = dir_.str() + "/enabled.so";
  ASSERT_EQ(symlink(good.c_str(), link.c_str()), 0);
  options_.before_load = [&](const std::string& p) {
    std::string next = p + ".next";
    ASSERT_EQ(symlink(marker.c_str(), next.c_str()), 0);
    ASSERT_EQ(rename(next.c_str(), p.c_str()), 0);
  };
  auto relinked = LoadModule(link, options_);
  ASSERT_TRUE(relinked.ok()) << relinked.error().message;
  EXPECT_EQ((*relinked)->name(), "testgood");
  EXPECT_FALSE(ConstructorRan());
}

// A module still mapped after its LoadedModule is gone (dlclose() does not always unload)
// keeps its "/proc/self/fd/N" name; a later module opened as descriptor N must not be taken
// for it.
TEST_F(LoaderTest, StaleDescriptorNameIsNotMistakenForANewModule) {
  auto first = LoadModule(testing::InstallFixture(dir_.str(), "good"), options_);
  ASSERT_TRUE(first.ok()) << first.error().message;
  Dl_info info{};
  ASSERT_NE(dladdr(reinterpret_cast<const void*>((*first)->table()->on_inbound), &info), 0);
  std::string name = info.dli_fname;
  ASSERT_EQ(name.rfind("/proc/self/fd/", 0), 0u) << name;
  void* pin = dlopen(name.c_str(), RTLD_LAZY | RTLD_NOLOAD);  // keeps it mapped
  ASSERT_NE(pin, nullptr);
  first->reset();
  auto second = LoadModule(testing::InstallFixture(dir_.str(), "newminor"), options_);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ((*second)->name(), "newminor");
  EXPECT_EQ((*second)->minor(), 7u);
  dlclose(pin);
}

// ScanModules learns each module's table in a probe process: the scanning process never maps
// the module; an unchanged file keeps its probe on the next scan, a replaced one is probed
// again; LoadModuleFile loads what the scan checked.
TEST_F(LoaderTest, ScanProbesWithoutLoading) {
  std::string handlers = Mkdir("scan", 0755);
  testing::InstallFixture(handlers, "good");
  testing::InstallFixture(handlers, "crash");
  testing::InstallFixture(handlers, "badmajor");
  auto mapped = [] {
    std::ifstream maps("/proc/self/maps");
    std::string text((std::istreambuf_iterator<char>(maps)), std::istreambuf_iterator<char>());
    return text.find("/scan/good.so") != std::string::npos;
  };
  ModuleCatalog first = ScanModules(handlers, options_);
  ASSERT_EQ(first.modules.size(), 2u);  // badmajor refused
  auto good = first.Find("testgood");
  ASSERT_TRUE(good);
  EXPECT_TRUE(good->has_heartbeat);
  EXPECT_EQ(good->abi_major, 1u);
  EXPECT_FALSE(first.Find("crasher")->has_heartbeat);
  EXPECT_EQ(first.FindModule("good.so"), good);
  EXPECT_FALSE(mapped());

  ModuleCatalog second = ScanModules(handlers, options_, &first);
  EXPECT_EQ(second.Find("testgood"), good);  // same file: same probe, same descriptor
  testing::InstallFixture(handlers, "good", ".new");
  ASSERT_EQ(rename((handlers + "/.new").c_str(), (handlers + "/good.so").c_str()), 0);
  ModuleCatalog third = ScanModules(handlers, options_, &second);
  ASSERT_TRUE(third.Find("testgood"));
  EXPECT_NE(third.Find("testgood"), good);
  EXPECT_NE(third.Find("testgood")->identity, good->identity);
  EXPECT_EQ(third.Find("crasher"), first.Find("crasher"));

  auto loaded = LoadModuleFile(*third.Find("testgood"), options_);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ((*loaded)->module_name(), "testgood");
  (*loaded)->set_instance("support");
  EXPECT_EQ((*loaded)->name(), "support");
}

}  // namespace
}  // namespace threadmill::runtime
