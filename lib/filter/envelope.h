// envelope.h - what the MTA told threadmill about one message besides its content.
//
// DESCRIPTION
//   Filled by the milter from libmilter callbacks and macros; lib/ never sees libmilter.
#pragma once

#include <string>
#include <vector>

namespace threadmill::filter {

struct Envelope {
  std::string client_name;  // hostname from connect ("localhost" for non-SMTP submissions)
  std::string client_addr;  // textual IP address, empty when unknown
  std::string helo;
  std::string auth_authen;  // {auth_authen}: SMTP AUTH login name, empty when not authenticated
  std::string daemon_name;  // {daemon_name}: e.g. Postfix's milter_macro_daemon_name
  std::string mail_from;    // MAIL FROM address without <>, empty for the null sender
  std::vector<std::string> recipients;  // RCPT TO addresses without <>
  std::string queue_id;                 // {i}, the MTA queue id; "NOQUEUE" until known
};

}  // namespace threadmill::filter
