// lib/main.dart
import 'dart:async';

import 'package:firebase_auth/firebase_auth.dart' as fb;
import 'package:firebase_core/firebase_core.dart';
import 'package:flutter/material.dart';
import 'package:stream_chat_flutter/stream_chat_flutter.dart';

import 'firebase_options.dart'; // from `flutterfire configure`
import 'stream_token_service.dart';

const streamApiKey = String.fromEnvironment('STREAM_API_KEY');
const tokenServiceUrl = String.fromEnvironment('STREAM_TOKEN_SERVICE_URL');

Future<void> main() async {
  WidgetsFlutterBinding.ensureInitialized();
  await Firebase.initializeApp(options: DefaultFirebaseOptions.currentPlatform);
  runApp(const ChatApp());
}

class ChatApp extends StatefulWidget {
  const ChatApp({super.key});

  @override
  State<ChatApp> createState() => _ChatAppState();
}

enum _Status { signedOut, connecting, connected, failed }

class _ChatAppState extends State<ChatApp> {
  final client = StreamChatClient(streamApiKey, logLevel: Level.WARNING);
  late final StreamTokenService tokens;
  StreamSubscription<fb.User?>? _authChanges;
  _Status _status = _Status.signedOut;
  String? _error;
  bool _canRetry = false;
  // Connects and disconnects run one after another, never interleaved.
  Future<void> _queue = Future.value();

  @override
  void initState() {
    super.initState();
    tokens = StreamTokenService(
      endpoint: tokenServiceUrl,
      getSessionToken: () async {
        final user = fb.FirebaseAuth.instance.currentUser;
        return user == null ? null : await user.getIdToken();
      },
      // A refresh refused late in the session: the sign-in is no longer valid.
      onAuthFailure: (error) => _fail(error),
    );
    _authChanges = fb.FirebaseAuth.instance.authStateChanges().listen(
          (user) => _queue = _queue.then((_) => _onAuthChanged(user)),
        );
  }

  Future<void> _onAuthChanged(fb.User? user) async {
    if (client.state.currentUser != null) await client.disconnectUser();
    if (user == null) {
      if (mounted) setState(() => _status = _Status.signedOut);
      return;
    }
    if (!mounted) return;
    setState(() => _status = _Status.connecting);
    try {
      await client.connectUserWithProvider(
        User(id: user.uid, name: user.displayName, image: user.photoURL),
        tokens.tokenProvider,
      );
      if (mounted) setState(() => _status = _Status.connected);
    } on StreamTokenException catch (error) {
      _fail(error);
    } catch (error) {
      if (mounted) {
        setState(() {
          _status = _Status.failed;
          _error = 'Could not connect to chat.';
          _canRetry = true;
        });
      }
    }
  }

  void _fail(StreamTokenException error) {
    if (!mounted || error.code == 'missing_token') return; // signing out
    final String message;
    if (error.status == 403) {
      message = 'Chat is not available for this account.';
    } else if (error.status == 401) {
      message = 'Your session has ended. Please sign in again.';
    } else if (error.status == 429) {
      message = 'Too many attempts. Try again in a minute.';
    } else {
      message = 'Chat is unavailable right now. Check your connection and try again.';
    }
    setState(() {
      _status = _Status.failed;
      _error = error.requestId == null ? message : '$message\nReference: ${error.requestId}';
      _canRetry = !error.isAuthFailure;
    });
  }

  void _retry() {
    _queue = _queue.then((_) => _onAuthChanged(fb.FirebaseAuth.instance.currentUser));
  }

  @override
  void dispose() {
    _authChanges?.cancel();
    client.disconnectUser();
    tokens.close();
    client.dispose();
    super.dispose();
  }

  @override
  Widget build(BuildContext context) {
    return MaterialApp(
      builder: (context, child) => StreamChat(client: client, child: child),
      home: switch (_status) {
        _Status.signedOut => const SignInScreen(),
        _Status.connecting => const Scaffold(body: Center(child: CircularProgressIndicator())),
        _Status.failed => Scaffold(
            body: Center(
              child: Column(mainAxisSize: MainAxisSize.min, children: [
                Text(_error ?? 'Could not connect to chat.', textAlign: TextAlign.center),
                if (_canRetry) TextButton(onPressed: _retry, child: const Text('Try again')),
                TextButton(onPressed: () => fb.FirebaseAuth.instance.signOut(), child: const Text('Sign out')),
              ]),
            ),
          ),
        _Status.connected => const ChannelListPage(),
      },
    );
  }
}

class ChannelListPage extends StatefulWidget {
  const ChannelListPage({super.key});

  @override
  State<ChannelListPage> createState() => _ChannelListPageState();
}

class _ChannelListPageState extends State<ChannelListPage> {
  late final _controller = StreamChannelListController(
    client: StreamChat.of(context).client,
    filter: Filter.in_('members', [StreamChat.of(context).currentUser!.id]),
  );

  @override
  void dispose() {
    _controller.dispose();
    super.dispose();
  }

  @override
  Widget build(BuildContext context) {
    return Scaffold(
      appBar: AppBar(
        title: const Text('Chats'),
        actions: [IconButton(icon: const Icon(Icons.logout), onPressed: () => fb.FirebaseAuth.instance.signOut())],
      ),
      body: StreamChannelListView(
        controller: _controller,
        onChannelTap: (channel) => Navigator.of(context).push(MaterialPageRoute(
          builder: (_) => StreamChannel(
            channel: channel,
            child: const Scaffold(
              appBar: StreamChannelHeader(),
              body: Column(children: [Expanded(child: StreamMessageListView()), StreamMessageInput()]),
            ),
          ),
        )),
      ),
    );
  }
}

/// Your sign-in UI (e.g. firebase_ui_auth's SignInScreen); a placeholder here.
class SignInScreen extends StatelessWidget {
  const SignInScreen({super.key});

  @override
  Widget build(BuildContext context) {
    return Scaffold(
      body: Center(
        child: FilledButton(
          onPressed: () => fb.FirebaseAuth.instance.signInAnonymously(),
          child: const Text('Sign in'),
        ),
      ),
    );
  }
}
