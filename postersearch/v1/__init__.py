"""Generated protobuf and gRPC stubs of proto/postersearch/v1 (scripts/gen_proto.py)."""
