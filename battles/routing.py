# Websocket routes of the battles app (job progress and live battles add theirs here).
websocket_urlpatterns = []
