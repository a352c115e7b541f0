## NpcDialogue against a live npc-runtime server (gRPC-Web, the real default model).
extends "test_case.gd"
