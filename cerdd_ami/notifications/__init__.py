"""Notifications: « un nouveau message vous attend », on the site and by e-mail.

Shared by both apps (the dossier's messagerie, the questions to the Cerdd, the participants'
network). The API, all in ``cerdd_ami.notifications.services``:

- ``notify(*, recipients, titre, url, template="notification", context=None)``: one
  ``Notification`` row per recipient (a User), written in the caller's transaction, and, for
  the recipients who chose « immédiat », one e-mail each sent by the task queue after the
  commit, never twice. ``url`` is a local path (``/candidature/3/messages/#message-7``): the
  e-mail links to it, and the page it names is where the notification is read. ``template``
  names ``templates/emails/<template>_{subject,body}.txt`` and ``_body.html``, rendered with
  ``context`` (JSON-able values: ids, strings) plus ``titre``, ``url`` (absolute),
  ``preferences_url`` and ``unsubscribe_url``. The default template says the titre and the
  link only: messages' content is not copied into e-mails.
- ``mark_read(*, user, url)``: the page at ``url`` was opened by ``user`` (call it from the
  view: its path, fragment ignored); ``mark_all_read(*, user)``.
- ``set_preference(*, user, mode)`` with ``Preference.Mode`` (IMMEDIAT, RESUME, AUCUN).

A person's choice (« Mes notifications », ``/notifications/``) applies to every kind of
notification: an e-mail each time, one daily digest (the periodic task ``send_digests``), or
none. Every e-mail carries List-Unsubscribe headers (one-click, RFC 8058) and a link to the
page that sets « aucun ». The menu shows the unread count (``context_processors.unread``).
"""
