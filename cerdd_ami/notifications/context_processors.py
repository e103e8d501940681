from .services import unread_count


def unread(request):
    """The signed-in person's unread notifications, for the menu (read when the menu shows
    it, after the page's view may have marked some read)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"notifications_non_lues": 0}
    return {"notifications_non_lues": lambda: unread_count(user)}
