"""Uploading media to ZakiPost: ``/v1/media`` (streamed, presigned, resumable), the
``media_objects`` they create, and the pipeline's side of them.

For the publish pipeline: :func:`~zakipost.upload.service.claim_media` takes an account's
ready media for a post, and :func:`~zakipost.upload.service.release_post_media` deletes a
final post's files. ``storage.expire_media`` deletes unused uploads once they expire.
"""
