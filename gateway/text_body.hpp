#pragma once
// The body of the gateway's responses: text the response owns, like Beast's string_body,
// or immutable text it shares with whoever keeps it (a kept list page, 39 KB), written
// from where it is kept instead of copied per request.

// Boost 1.74 Asio/Beast with -std=c++20 on g++ 12 needs <utility> before any Boost header.
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional/optional.hpp>

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

namespace fw::gateway {

struct text_body {
  class value_type {
  public:
    value_type() = default;
    value_type(std::string text) : owned_(std::move(text)) {}
    value_type(const char* text) : owned_(text) {}
    /// Shares `text` for as long as the response lives (a null pointer: an empty body).
    value_type(std::shared_ptr<const std::string> text) : shared_(std::move(text)) {}

    std::string_view view() const noexcept { return shared_ ? *shared_ : owned_; }
    const char* data() const noexcept { return view().data(); }
    std::size_t size() const noexcept { return view().size(); }
    bool empty() const noexcept { return view().empty(); }
    void clear() noexcept {
      owned_.clear();
      shared_.reset();
    }

    friend bool operator==(const value_type& x, std::string_view y) { return x.view() == y; }
    friend std::ostream& operator<<(std::ostream& out, const value_type& x) {
      return out << x.view();
    }

  private:
    std::string owned_;
    std::shared_ptr<const std::string> shared_;
  };

  static std::uint64_t size(const value_type& body) noexcept { return body.size(); }

  /// Serializes the text in one buffer (the gateway only writes responses of this body).
  class writer {
  public:
    using const_buffers_type = boost::asio::const_buffer;

    template <bool isRequest, class Fields>
    explicit writer(const boost::beast::http::header<isRequest, Fields>&, const value_type& b)
      : body_(b) {}

    void init(boost::beast::error_code& ec) { ec = {}; }

    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      ec = {};
      return {{const_buffers_type{body_.data(), body_.size()}, false}};
    }

  private:
    const value_type& body_;
  };
};

} // namespace fw::gateway
