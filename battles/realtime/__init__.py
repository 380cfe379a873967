"""Websocket pushes: consumers (transport only) and the receivers that turn the pipeline's and
voting's signals into messages for channel groups.
"""
