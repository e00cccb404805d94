"""The copy-paste sign-up form for the operator's own site (README and the desk show it).

A plain HTML form posting to ``/api/v1/subscribe``: without JavaScript the browser goes to
the newsletter's "check your inbox" page; with it, the small script posts in the
background and shows the answer under the button. The page's origin must be listed in
``NEWSLETTER_EMBED_ORIGINS``. ``website`` is the honeypot: people never see it, bots fill it.
"""

from __future__ import annotations

from html import escape

_SNIPPET = """\
<form class="nl-signup" action="{action}" method="post">
  <label for="nl-email">邮箱 Email</label>
  <input id="nl-email" type="email" name="email" required autocomplete="email">
  <label for="nl-language">语言 Language</label>
  <select id="nl-language" name="language">
    <option value="both">中英双语 Both</option>
    <option value="zh">中文 Chinese</option>
    <option value="en">English 英文</option>
  </select>
  <div aria-hidden="true" style="position:absolute;left:-10000px">
    <input type="text" name="website" tabindex="-1" autocomplete="off">
  </div>
  <button type="submit">订阅 Subscribe</button>
  <p class="nl-signup-status" role="status" aria-live="polite"></p>
</form>
<script>
document.querySelectorAll("form.nl-signup").forEach(function (form) {{
  form.addEventListener("submit", function (event) {{
    event.preventDefault();
    var status = form.querySelector(".nl-signup-status");
    fetch(form.action, {{method: "POST", body: new FormData(form),
                        headers: {{"Accept": "application/json"}}}})
      .then(function (response) {{ return response.json(); }})
      .then(function (body) {{
        status.textContent = body.message || body.error.message;
      }})
      .catch(function () {{
        status.textContent = "暂时无法订阅。 Signing up failed; please try again later.";
      }});
  }});
}});
</script>
"""


def snippet(base_url: str) -> str:
    """The form for a site whose newsletter is at ``base_url``."""
    action = escape(f"{base_url.rstrip('/')}/api/v1/subscribe", quote=True)
    return _SNIPPET.format(action=action)
