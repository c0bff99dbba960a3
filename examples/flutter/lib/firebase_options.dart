// lib/firebase_options.dart
// Stands in for the file `flutterfire configure` writes for your Firebase project; replace it.
import 'package:firebase_core/firebase_core.dart';

class DefaultFirebaseOptions {
  static FirebaseOptions get currentPlatform =>
      throw UnsupportedError('Run `flutterfire configure` to write lib/firebase_options.dart for your project.');
}
