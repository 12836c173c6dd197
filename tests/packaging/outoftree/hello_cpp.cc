// hello_cpp.cc - a C++ handler built out of tree with threadmill/handler.hpp (test_outoftree.sh).
#include <threadmill/handler.hpp>

class Hello {
 public:
  Hello(threadmill::Context&, std::string_view) {}
  int on_inbound(threadmill::Context& ctx, const threadmill_envelope& env) {
    threadmill::MessageOptions o;
    o.subject = "Hello";
    o.text = "Hello from C++.";
    o.attachments.push_back({"hello.txt", "text/plain", "hi"});
    auto sent = ctx.reply_ex(env.channel_message_id, o);
    return sent ? THREADMILL_OK : THREADMILL_RETRY;
  }
};
THREADMILL_CPP_HANDLER(Hello, "hellocpp")
