// 获取验证码 countdown: the button waits out the one-minute resend limit, counting down.
// The button itself is a plain submit (the server sends the code and redirects back
// with every typed field), so the page works the same without this script.
(function () {
  "use strict";
  var button = document.getElementById("send-code");
  if (!button) return;
  var left = parseInt(button.getAttribute("data-wait") || "0", 10);
  if (!(left > 0)) return;
  button.disabled = true;
  var timer = setInterval(function () {
    left -= 1;
    if (left <= 0) {
      clearInterval(timer);
      button.disabled = false;
      button.textContent = "重新获取验证码";
      return;
    }
    button.textContent = "重新获取(" + left + "秒)";
  }, 1000);
})();
