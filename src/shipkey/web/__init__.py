"""The HTML kit every server-rendered page shares (the buyer portal, the seller admin, the pages
after checkout and behind an access link):

- :mod:`~shipkey.web.session`: the signed session cookie, and who is signed in, kept on the
  server (:mod:`~shipkey.web.sign_ins`);
- :mod:`~shipkey.web.csrf`: the CSRF check every form post passes;
- :mod:`~shipkey.web.render`: the page's language and rendering Jinja2 templates with Babel;
- :mod:`~shipkey.web.errors`: errors answered as pages, and the one mapping of domain errors to
  them.
"""
