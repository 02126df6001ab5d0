package fastrpc

import (
	"context"
	"fmt"
	"reflect"

	"google.golang.org/grpc"
)

// chainUnary folds interceptors into one, the first outermost (nil: none).
func chainUnary(is []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	switch len(is) {
	case 0:
		return nil
	case 1:
		return is[0]
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return is[0](ctx, req, info, unaryNext(is[1:], info, h))
	}
}

func unaryNext(is []grpc.UnaryServerInterceptor, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) grpc.UnaryHandler {
	if len(is) == 0 {
		return h
	}
	return func(ctx context.Context, req any) (any, error) {
		return is[0](ctx, req, info, unaryNext(is[1:], info, h))
	}
}

// chainStream folds interceptors into one, the first outermost (nil: none).
func chainStream(is []grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	switch len(is) {
	case 0:
		return nil
	case 1:
		return is[0]
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return is[0](srv, ss, info, streamNext(is[1:], info, h))
	}
}

func streamNext(is []grpc.StreamServerInterceptor, info *grpc.StreamServerInfo, h grpc.StreamHandler) grpc.StreamHandler {
	if len(is) == 0 {
		return h
	}
	return func(srv any, ss grpc.ServerStream) error {
		return is[0](srv, ss, info, streamNext(is[1:], info, h))
	}
}

// checkImpl mirrors grpc.Server's check that impl implements the service.
func checkImpl(desc *grpc.ServiceDesc, impl any) error {
	if impl == nil || desc.HandlerType == nil {
		return nil
	}
	ht := reflect.TypeOf(desc.HandlerType).Elem()
	if st := reflect.TypeOf(impl); !st.Implements(ht) {
		return fmt.Errorf("fastrpc: RegisterService found the handler of type %v that does not satisfy %v", st, ht)
	}
	return nil
}
